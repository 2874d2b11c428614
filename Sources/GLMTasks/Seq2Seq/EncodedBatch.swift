import GLM
import GLMTensor

/// ``EncodedSample``s stacked for the model: right-padded to the longest with `padId`, position
/// 0/0, target 0 and loss 0. Padding only ever follows Part B, whose rows are causal, so it changes
/// no real row's output (the official code pads LAMBADA and perplexity windows the same way).
public struct EncodedBatch: Sendable {
    /// `[b, s]` i32.
    public let inputIds: Tensor
    /// `[b, 2, s]` i32.
    public let positionIds: Tensor
    /// Part A length per row.
    public let seps: [Int32]
    /// Aligned targets, row-major `[b·s]`.
    public let targets: [Int32]
    /// Loss weights, row-major `[b·s]`.
    public let lossMask: [Float]
    public let batchSize: Int
    public let length: Int

    public var mask: AttentionMask { .separators(seps) }

    /// Stacks `samples`; training samples (targets and loss mask) and evaluation samples both work
    /// (evaluation samples get zero targets and loss). `width`, when larger than the longest
    /// sample, pads every row to it: a data-parallel part of a batch keeps the whole batch's width.
    public init(_ samples: [EncodedSample], padId: Int, width: Int = 0) throws {
        guard !samples.isEmpty else { throw TaskError.setting("a batch needs at least one sample") }
        let s = Swift.max(samples.map(\.tokens.count).max()!, width)
        guard s > 0 else { throw TaskError.setting("empty sample in a batch") }
        let b = samples.count
        var ids = [Int32](repeating: Int32(padId), count: b * s)
        var pos = [Int32](repeating: 0, count: b * 2 * s)
        var tg = [Int32](repeating: 0, count: b * s)
        var lm = [Float](repeating: 0, count: b * s)
        for (r, x) in samples.enumerated() {
            let n = x.tokens.count
            guard x.positions.count == n, x.blockPositions.count == n,
                  x.targets.isEmpty || (x.targets.count == n && x.lossMask.count == n), x.sep >= 0, x.sep <= n else {
                throw TaskError.setting("sample \(x.id) has inconsistent lengths (tokens \(n), positions \(x.positions.count), blocks \(x.blockPositions.count), targets \(x.targets.count), loss \(x.lossMask.count), sep \(x.sep))")
            }
            for i in 0..<n {
                ids[r * s + i] = Int32(x.tokens[i])
                pos[2 * r * s + i] = Int32(x.positions[i])
                pos[(2 * r + 1) * s + i] = Int32(x.blockPositions[i])
                if !x.targets.isEmpty {
                    tg[r * s + i] = Int32(x.targets[i])
                    lm[r * s + i] = Float(x.lossMask[i])
                }
            }
        }
        inputIds = try Tensor(int32: ids, shape: [b, s])
        positionIds = try Tensor(int32: pos, shape: [b, 2, s])
        seps = samples.map { Int32($0.sep) }
        targets = tg
        lossMask = lm
        batchSize = b
        length = s
    }

    /// Flattened rows (`r·s + t`) that carry loss.
    public var lossRows: [Int] { lossMask.indices.filter { lossMask[$0] != 0 } }
}
