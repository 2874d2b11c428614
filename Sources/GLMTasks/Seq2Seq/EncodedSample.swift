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
