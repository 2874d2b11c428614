/// How tokens are chosen when filling a blank (docs/official-glm.md §6.2, §7.1).
///
/// The defaults are those of the official `scripts/generate_block.sh`: sampling at temperature
/// 0.9 from the 40 most likely tokens, with a fixed seed so that a run can be repeated.
public struct GenerationConfig: Sendable, Codable, Equatable {
    /// Always take the most likely token (ignores temperature, top-k and top-p).
    public var greedy = false
    /// Softmax temperature for sampling.
    public var temperature: Float = 0.9
    /// Keep only the k most likely tokens (0: no limit).
    public var topK = 40
    /// Keep the most likely tokens up to and including the first whose cumulative probability
    /// exceeds p, as the official `top_k_logits` does (0 or 1: no limit).
    public var topP: Float = 0
    /// CTRL-style penalty (> 1 discourages tokens already in the prompt or the fill): a positive
    /// logit is divided by it, a negative one multiplied (HF `RepetitionPenaltyLogitsProcessor`).
    public var repetitionPenalty: Float = 1
    /// Forbid repeating any n-gram of this size within one fill's generated tokens (0: off), as
    /// the official `NoRepeatNGramLogitsProcessor`.
    public var noRepeatNgram = 0
    /// The stop tokens (eop, eos) are banned until a fill has this many tokens.
    public var minNewTokens = 0
    /// Most tokens per blank. ``BlankFiller`` caps it at the model's `max_sequence_length`,
    /// because block positions 1…n index the same position table.
    public var maxNewTokens = 64
    /// Ids never generated (e.g. vocabulary padding rows).
    public var bannedIds: [Int] = []
    /// Beam search when > 1 (deterministic; ignores temperature, top-k and top-p).
    public var numBeams = 1
    /// Decode with beam search even when ``numBeams`` is 1. One beam picks what greedy decoding
    /// picks (without a repetition penalty) and also reports the fill's score.
    public var beamSearch = false
    /// Beam score = Σ log p / length^lengthPenalty, length counting the generated tokens without
    /// the stop token (docs/official-glm.md §6.2). > 1 favours longer fills, < 1 shorter ones, 0 none.
    public var lengthPenalty: Float = 1
    /// Stop a beam search as soon as `numBeams` hypotheses are finished. Off by default, as in the
    /// official generator and evaluator (`do_early_stopping=False`): the search goes on while a
    /// live beam may still beat the worst finished one.
    public var earlyStopping = false
    /// End a fill at eos as well as at eop, as the official generator does (`end_tokens = [eop, eod]`,
    /// docs/official-glm.md §7.1). The official seq2seq and blank-infilling evaluators end a fill at
    /// eop only (their `end_token`, §6.2): with `false` a generated eos is an ordinary token, and
    /// only eop is banned below ``minNewTokens``.
    public var stopAtEos = true
    /// Decode the blanks of a context as one stream, as the official `BlankLMEvaluater` does
    /// (docs/official-glm.md §6.3): the stream is every fill so far, each followed by the sop that
    /// starts the next blank, and ``maxNewTokens`` bounds the whole stream (blanks left when it is
    /// spent stay empty), while ``minNewTokens`` and ``noRepeatNgram`` look at the stream rather than
    /// at the current fill. Off: each blank is decoded on its own budget, as the generator does.
    /// Greedy or sampled decoding only.
    public var blanksAsOneStream = false
    /// Seed of the sampling stream. Every prompt of a batch starts from it, so a prompt's fill
    /// does not depend on the other prompts.
    public var seed: UInt64 = 1234

    /// The official defaults above; set fields to change them.
    public init() {}

    /// Bans the vocabulary padding rows `tokenizerSize..<vocabSize` (ids the tokenizer cannot
    /// decode), as `glm generate` and `glm serve` do unless told otherwise.
    public mutating func banPadding(tokenizerSize: Int, vocabSize: Int) {
        if tokenizerSize < vocabSize { bannedIds += Array(tokenizerSize..<vocabSize) }
    }

    /// Whether ``BlankFiller`` decodes with beam search.
    public var usesBeamSearch: Bool { numBeams > 1 || beamSearch }

    /// Throws ``GLMError/invalidInput(_:)`` naming the setting out of range.
    public func validate() throws {
        func bad(_ m: String) -> GLMError { .invalidInput(m) }
        guard temperature > 0 && temperature.isFinite || greedy else { throw bad("temperature must be > 0, got \(temperature)") }
        guard topK >= 0 else { throw bad("top-k must be ≥ 0, got \(topK)") }
        guard topP >= 0, topP <= 1 else { throw bad("top-p must be in [0, 1], got \(topP)") }
        guard repetitionPenalty > 0 && repetitionPenalty.isFinite else {
            throw bad("repetition penalty must be > 0, got \(repetitionPenalty)")
        }
        guard noRepeatNgram >= 0 else { throw bad("no-repeat n-gram size must be ≥ 0, got \(noRepeatNgram)") }
        guard maxNewTokens > 0 else { throw bad("max new tokens must be > 0, got \(maxNewTokens)") }
        guard minNewTokens >= 0, minNewTokens <= maxNewTokens else {
            throw bad("min new tokens must be in [0, max new tokens = \(maxNewTokens)], got \(minNewTokens)")
        }
        guard numBeams >= 1 else { throw bad("number of beams must be ≥ 1, got \(numBeams)") }
        guard lengthPenalty.isFinite else { throw bad("length penalty must be a finite number, got \(lengthPenalty)") }
        guard !(blanksAsOneStream && usesBeamSearch) else {
            throw bad("blanks decoded as one stream (the official blank-infilling evaluator) are greedy or sampled, not beam search")
        }
    }
}
