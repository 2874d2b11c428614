import GLMTensor

/// Cloze samples batched for one forward pass: every choice of every sample is one row of the model
/// batch, so all choices of a batch run together. Rows are cut after the longest sequence's last
/// token: the padding after Part B is never attended to by an earlier position (docs/official-glm.md
/// §1.3: a position sees Part A and the positions before it), so dropping it changes no score.
public struct ClozeBatch: Sendable {
    public let kind: ClozeKind
    /// The official label of each sample.
    public let labels: [Int]
    /// `[N, W]` i32: the N sequences (all choices of all samples), W = the longest's length.
    public let inputIds: Tensor
    /// `[N, 2, W]` i32.
    public let positionIds: Tensor
    /// Part A's length of each sequence.
    public let seps: [Int32]
    /// The sequence index of choice c of sample b.
    public let sequences: [[Int]]
    /// The most choices any sample has (the width of the score matrix).
    public let choices: Int
    /// Single-token: the verbaliser ids of each sample; the score of label k is the logit of
    /// `candidateIds[b][k]` at sample b's sop position.
    let candidateIds: [[Int]]
    /// Multi-token: for each sequence, the flat rows (`n·W + t`) that carry a target, and the targets.
    let scoreRows: [[Int]]
    let scoreTargets: [[Int32]]
    public let width: Int

    /// Batches `samples` (all single-token, or all multi-token). `width`, when larger than the
    /// longest sequence, pads every sequence to it: a data-parallel part of a batch keeps the
    /// whole batch's width, so it computes exactly what the whole batch computes for its samples.
    public init(_ samples: [ClozeSample], width minimumWidth: Int = 0) throws {
        guard let first = samples.first else { throw TaskError.setting("an empty batch") }
        guard samples.allSatisfy({ $0.kind == first.kind }) else { throw TaskError.setting("a batch mixes single- and multi-token samples") }
        kind = first.kind
        labels = samples.map(\.label)
        var seqs: [ClozeSequence] = []
        var index: [[Int]] = []
        for s in samples {
            guard !s.choices.isEmpty else { throw TaskError.setting("sample \(s.guid) has no sequences") }
            index.append(Array(seqs.count..<(seqs.count + s.choices.count)))
            seqs += s.choices
        }
        sequences = index
        choices = samples.map(\.choices.count).max()!
        let w = Swift.max(seqs.map(\.length).max()!, minimumWidth)
        guard seqs.allSatisfy({ $0.inputIds.count >= w && $0.positions.count >= w && $0.blocks.count >= w && $0.lossMask.count >= w && $0.targetIds.count >= w }) else {
            throw TaskError.setting("width \(w) is wider than the encoded sequences")
        }
        width = w
        var ids = [Int32](), pos = [Int32]()
        ids.reserveCapacity(seqs.count * w); pos.reserveCapacity(seqs.count * 2 * w)
        for q in seqs {
            ids += q.inputIds.prefix(w).map { Int32($0) }
            pos += q.positions.prefix(w).map { Int32($0) }
            pos += q.blocks.prefix(w).map { Int32($0) }
        }
        inputIds = try Tensor(int32: ids, shape: [seqs.count, w])
        positionIds = try Tensor(int32: pos, shape: [seqs.count, 2, w])
        seps = seqs.map { Int32($0.sep) }
        if kind == .single {
            guard samples.allSatisfy({ $0.choices.count == 1 && $0.candidateIds != nil }),
                  Set(samples.map { $0.candidateIds!.count }).count == 1 else {
                throw TaskError.setting("single-token samples need one sequence and the same number of candidates each")
            }
            candidateIds = samples.map { $0.candidateIds! }
            scoreRows = []; scoreTargets = []
        } else {
            candidateIds = []
            var rows: [[Int]] = [], targets: [[Int32]] = []
            for (n, q) in seqs.enumerated() {
                let ts = (0..<w).filter { q.lossMask[$0] != 0 }
                rows.append(ts.map { n * w + $0 })
                targets.append(ts.map { Int32(q.targetIds[$0]) })
            }
            scoreRows = rows; scoreTargets = targets
        }
    }

    /// The attention mask of the batch (one separator per sequence).
    public var mask: AttentionMask { .separators(seps) }

    /// Number of model rows (sequences).
    public var sequenceCount: Int { seps.count }
}
