import GLMTokenizers

/// The token-id level of the official seq2seq layouts (docs/official-glm.md §6.2; official
/// `tasks/seq2seq/dataset.py:Seq2SeqDataset.__getitem__` and `CustomizationDataset.__getitem__`),
/// separate from tokenisation so it can be checked id by id.
///
/// - Part A (the source) is right-padded with pad to `sourceLength` and `sep = sourceLength`: the
///   pads sit *inside* Part A and every Part B row sees them.
/// - Training: `tokens = source + [sop] + (target + [eop])[:-1]` where `target + [eop]` is cut to
///   `targetLength` (a cut target loses its eop) and padded with pad to it; positions = the mask's
///   index and block positions 1…targetLength over the whole Part B (its padding included); targets
///   `[0]·src + target + [eop] + pads`; loss 1 on the target and eop only.
/// - Evaluation: `tokens = source + [sop]`, position (mask index, 1).
public struct Seq2SeqLayout: Sendable {
    public let commands: CommandTokens
    /// The mask id of the layout: [MASK], or [sMASK] for task-mask models.
    public let maskId: Int
    public let sourceLength: Int
    public let targetLength: Int
    /// `--no-block-position`: every Part B block position is 1.
    public let noBlockPosition: Bool

    public init(commands: CommandTokens, maskId: Int, sourceLength: Int, targetLength: Int, noBlockPosition: Bool = false) throws {
        guard sourceLength > 0, targetLength > 0 else {
            throw TaskError.setting("source and target lengths must be positive (got \(sourceLength), \(targetLength))")
        }
        self.commands = commands; self.maskId = maskId
        self.sourceLength = sourceLength; self.targetLength = targetLength; self.noBlockPosition = noBlockPosition
    }

    // MARK: - Part A

    /// Summarisation: `[CLS] [M] content` + the source ids cut to what is left of `sourceLength`.
    /// `contentIds` is the encoding of `" Content:"`, `sourceIds` of `" " + source`.
    public func summarySource(sourceIds: [Int], contentIds: [Int]) throws -> [Int] {
        let prompt = [commands.cls, maskId] + contentIds
        guard prompt.count <= sourceLength else {
            throw TaskError.setting("source length \(sourceLength) is shorter than the \(prompt.count)-token summary prompt")
        }
        return prompt + sourceIds.prefix(sourceLength - prompt.count)
    }

    /// SQuAD question generation: `[CLS] context [M] answer`, where `contextIds` encodes
    /// `context.rstrip() + " Question:"`, `answerIds` `" Answer: " + answer` and `answerPattern`
    /// `" " + answer`. A context too long for what the answer leaves is windowed: it starts half a
    /// window before the answer's first occurrence (or at 0 when the answer is not found).
    public func questionGenerationSource(contextIds: [Int], answerIds: [Int], answerPattern: [Int]) throws -> [Int] {
        var ctx = contextIds
        if ctx.count > sourceLength - answerIds.count - 2 {
            let room = sourceLength - answerIds.count - 2
            guard room > 0 else {
                throw TaskError.setting("source length \(sourceLength) leaves no room for the context after the \(answerIds.count)-token answer")
            }
            if let first = Self.firstOccurrence(of: answerPattern, in: ctx) {
                let start = max(first - room / 2, 0)
                ctx = Array(ctx[start..<min(start + room, ctx.count)])
            } else {
                ctx = Array(ctx.prefix(room))
            }
        }
        return [commands.cls] + ctx + [maskId] + answerIds
    }

    /// `CustomizationDataset`: `[CLS] + sourceIds[-(src−3):] + [M] + [eos]` (the *end* of a long
    /// source is kept).
    public func customizationSource(sourceIds: [Int]) throws -> [Int] {
        guard sourceLength > 3 else { throw TaskError.setting("source length \(sourceLength) must exceed 3 for [CLS] … [MASK] [eos]") }
        let kept = sourceIds.count + 3 > sourceLength ? Array(sourceIds.suffix(sourceLength - 3)) : sourceIds
        return [commands.cls] + kept + [maskId, commands.eos]
    }

    /// `sub_finder(...)[0]`: the first index where `pattern` occurs (nil for an empty pattern, where
    /// the official code would fail).
    static func firstOccurrence(of pattern: [Int], in list: [Int]) -> Int? {
        guard let p0 = pattern.first, list.count >= pattern.count else { return nil }
        for i in 0...(list.count - pattern.count) where list[i] == p0 && list[i..<(i + pattern.count)].elementsEqual(pattern) {
            return i
        }
        return nil
    }

    // MARK: - Samples

    /// Part A padded with pad to `sourceLength` (a longer one is left as is, as the official code).
    public func padded(_ source: [Int]) -> [Int] {
        source.count < sourceLength ? source + [Int](repeating: commands.pad, count: sourceLength - source.count) : source
    }

    /// The mask position: the first [M] of the padded source.
    func maskPosition(_ source: [Int]) throws -> Int {
        guard let p = source.firstIndex(of: maskId) else {
            throw TaskError.pattern("the source has no mask token (id \(maskId)) to generate at")
        }
        return p
    }

    /// The training sample for a Part A (from one of the `…Source` builders) and the target's ids
    /// (`" " + target` encoded).
    public func training(source unpadded: [Int], targetIds: [Int], id: String = "") throws -> EncodedSample {
        let source = padded(unpadded)
        let sep = source.count
        let maskPos = try maskPosition(source)
        var target = Array((targetIds + [commands.eop]).prefix(targetLength))
        var loss = [Int](repeating: 1, count: target.count)
        if target.count < targetLength {
            loss += [Int](repeating: 0, count: targetLength - target.count)
            target += [Int](repeating: commands.pad, count: targetLength - target.count)
        }
        return EncodedSample(
            tokens: source + [commands.sop] + target.dropLast(),
            targets: [Int](repeating: 0, count: sep) + target,
            lossMask: [Int](repeating: 0, count: sep) + loss,
            positions: Array(0..<sep) + [Int](repeating: maskPos, count: targetLength),
            blockPositions: [Int](repeating: 0, count: sep) + (noBlockPosition ? [Int](repeating: 1, count: targetLength) : Array(1...targetLength)),
            sep: sep, id: id)
    }

    /// The evaluation sample: `source + [sop]`, the sop at (mask index, 1).
    public func evaluation(source unpadded: [Int], id: String = "") throws -> EncodedSample {
        let source = padded(unpadded)
        let maskPos = try maskPosition(source)
        return EncodedSample(tokens: source + [commands.sop], targets: [], lossMask: [],
                             positions: Array(0..<source.count) + [maskPos],
                             blockPositions: [Int](repeating: 0, count: source.count) + [1],
                             sep: source.count, id: id)
    }
}
