/// How tokens are chosen when filling a blank (glm-spec §6.2, §7.1).
public struct GenerationConfig: Sendable, Codable, Equatable {
    /// Always take the most likely token (ignores temperature, top-k and top-p).
    public var greedy = false
    /// Softmax temperature for sampling.
    public var temperature: Float = 0.9
    /// Keep only the k most likely tokens (0: no limit).
    public var topK = 40
    /// Keep the smallest set of tokens whose probability reaches p (0 or 1: no limit).
    public var topP: Float = 0
    /// CTRL-style penalty (> 1 discourages tokens already in the context or the fill).
    public var repetitionPenalty: Float = 1
    /// Forbid repeating any n-gram of this size within the generated tokens (0: off).
    public var noRepeatNgram = 0
    /// End-of-piece is banned until a fill has this many tokens.
    public var minNewTokens = 0
    /// Most tokens per blank.
    public var maxNewTokens = 64
    /// Ids never generated (e.g. vocabulary padding rows).
    public var bannedIds: [Int] = []
    /// Beam search when > 1 (deterministic; ignores sampling settings).
    public var numBeams = 1
    /// Beam score = Σ log p / length^lengthPenalty.
    public var lengthPenalty: Float = 1
    /// Stop a beam search once `numBeams` hypotheses are finished.
    public var earlyStopping = true
    /// Seed of the sampling stream.
    public var seed: UInt64 = 1234

    public init() {}

    /// Throws ``GLMError/invalidInput(_:)`` naming the setting out of range.
    public func validate() throws {
        func bad(_ m: String) -> GLMError { .invalidInput(m) }
        guard temperature > 0 || greedy else { throw bad("temperature must be > 0, got \(temperature)") }
        guard topK >= 0 else { throw bad("top-k must be ≥ 0, got \(topK)") }
        guard topP >= 0, topP <= 1 else { throw bad("top-p must be in [0, 1], got \(topP)") }
        guard repetitionPenalty > 0 else { throw bad("repetition penalty must be > 0, got \(repetitionPenalty)") }
        guard noRepeatNgram >= 0 else { throw bad("no-repeat n-gram size must be ≥ 0, got \(noRepeatNgram)") }
        guard maxNewTokens > 0 else { throw bad("max new tokens must be > 0, got \(maxNewTokens)") }
        guard minNewTokens >= 0, minNewTokens <= maxNewTokens else {
            throw bad("min new tokens must be in [0, max new tokens = \(maxNewTokens)], got \(minNewTokens)")
        }
        guard numBeams >= 1 else { throw bad("number of beams must be ≥ 1, got \(numBeams)") }
    }
}
