/// One encoded GLM sequence, Part A then Part B, with aligned targets and a loss mask: what the
/// official seq2seq, blank-infilling and language-model datasets' `__getitem__` return (unpadded
/// beyond what the official code pads).
public struct EncodedSample: Sendable, Equatable, Codable {
    /// Input ids (`text`): Part A then Part B.
    public var tokens: [Int]
    /// Aligned targets (`target`; 0 in Part A); empty for an evaluation sample.
    public var targets: [Int]
    /// 1 where the loss counts (`loss_mask`); empty for an evaluation sample.
    public var lossMask: [Int]
    /// Row 0 of `position_id`.
    public var positions: [Int]
    /// Row 1 of `position_id` (block positions).
    public var blockPositions: [Int]
    /// Part A length (the official `attention_mask` scalar).
    public var sep: Int
    /// The official guid of the example.
    public var id: String

    public init(tokens: [Int], targets: [Int], lossMask: [Int], positions: [Int], blockPositions: [Int], sep: Int, id: String = "") {
        self.tokens = tokens; self.targets = targets; self.lossMask = lossMask
        self.positions = positions; self.blockPositions = blockPositions; self.sep = sep; self.id = id
    }

    /// Whether this is a training sample (with targets and a loss mask).
    public var isTraining: Bool { !targets.isEmpty }
}

extension EncodedSample {
    /// The sample right-padded to `length` tokens with `padId` (positions 0/0, targets 0, loss 0),
    /// as the official datasets pad; a longer sample is returned unchanged.
    public func padded(to length: Int, with padId: Int) -> EncodedSample {
        let p = length - tokens.count
        guard p > 0 else { return self }
        let z = [Int](repeating: 0, count: p)
        return EncodedSample(tokens: tokens + [Int](repeating: padId, count: p),
                             targets: targets.isEmpty ? [] : targets + z, lossMask: lossMask.isEmpty ? [] : lossMask + z,
                             positions: positions + z, blockPositions: blockPositions + z, sep: sep, id: id)
    }

    /// A JSON-able record with the field names `glm cloze` prints (`input_ids`, `position_ids` as
    /// `[positions, blocks]`, `sep`, `target_ids`, `loss_mask`), for printing inputs and for
    /// side-by-side checks against the official code.
    public var record: [String: Any] {
        var r: [String: Any] = ["id": id, "input_ids": tokens, "position_ids": [positions, blockPositions], "sep": sep]
        if isTraining || !lossMask.isEmpty {
            r["target_ids"] = targets
            r["loss_mask"] = lossMask
        }
        return r
    }
}
