import ArgumentParser
import GLM

/// The decoding flags of `glm generate` (and the settings `glm serve` accepts by the same names in
/// snake_case), parsed once into a ``GenerationConfig``.
struct GenerationOptions: ParsableArguments {
    @Flag(name: .long, help: "Always take the most likely token (deterministic; ignores temperature, top-k, top-p).")
    var greedy = false
    @Option(name: .long, help: "Sampling temperature.")
    var temperature: Float = 0.9
    @Option(name: .long, help: "Sample from the k most likely tokens (0: all).")
    var topK: Int = 40
    @Option(name: .long, help: "Sample from the smallest set of tokens whose probability exceeds p (0: off).")
    var topP: Float = 0
    @Option(name: .long, help: "Beam search with this many beams (> 1; deterministic, ignores sampling settings).")
    var numBeams: Int = 1
    @Option(name: .long, help: "Beam score = Σ log p / length^penalty: > 1 favours longer fills, < 1 shorter.")
    var lengthPenalty: Float = 1
    @Flag(name: .long, help: "End a beam search as soon as --num-beams fills are finished (the official code does not).")
    var earlyStopping = false
    @Option(name: .long, help: "Most tokens per blank, capped at the model's max_sequence_length. (default: 64)")
    var maxNewTokens: Int?
    @Option(name: .long, help: "Fewest tokens per blank: the end of a fill is banned before.")
    var minNewTokens: Int = 0
    @Option(name: .long, help: "Never repeat an n-gram of this size within a fill (0: off).")
    var noRepeatNgram: Int = 0
    @Option(name: .long, help: "Penalty > 1 on tokens already in the prompt or fill (1: off; 1.2 is common).")
    var repetitionPenalty: Float = 1
    @Option(name: .long, help: "A token id never to generate (repeatable).")
    var banId: [Int] = []
    @Flag(name: .long, inversion: .prefixedNo, help: "Never generate the vocabulary padding rows (ids ≥ the tokenizer's size).")
    var banPadding = true
    @Option(name: .long, help: "Seed of the sampling stream (every prompt starts from it).")
    var seed: UInt64 = 1234

    /// The settings, validated; padding rows `tokenizerSize..<vocabSize` banned unless `--no-ban-padding`.
    func config(tokenizerSize: Int? = nil, vocabSize: Int? = nil) throws -> GenerationConfig {
        var cfg = GenerationConfig()
        cfg.greedy = greedy
        cfg.temperature = temperature
        cfg.topK = topK
        cfg.topP = topP
        cfg.numBeams = numBeams
        cfg.lengthPenalty = lengthPenalty
        cfg.earlyStopping = earlyStopping
        if let maxNewTokens { cfg.maxNewTokens = maxNewTokens }
        cfg.minNewTokens = minNewTokens
        cfg.noRepeatNgram = noRepeatNgram
        cfg.repetitionPenalty = repetitionPenalty
        cfg.seed = seed
        cfg.bannedIds = banId
        if banPadding, let t = tokenizerSize, let v = vocabSize { cfg.banPadding(tokenizerSize: t, vocabSize: v) }
        try cfg.validate()
        return cfg
    }
}
