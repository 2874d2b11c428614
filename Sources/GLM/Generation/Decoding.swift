import Foundation
import GLMTensor

/// A model seen one decoding step at a time, for the ``Decoding`` drivers: a hand-built
/// distribution in tests, or anything else that maps fed tokens to next-token logits.
public protocol StepModel {
    /// Number of sequences decoded side by side (beams).
    var width: Int { get }
    /// Feeds one token per sequence (the `step`-th of the fill, 0 being sop) and returns the
    /// next-token logits, `width` rows of `vocab`.
    mutating func step(_ tokens: [Int], step: Int) throws -> [[Float]]
    /// Rearranges sequences: sequence i continues old sequence `sources[i]`.
    mutating func reorder(_ sources: [Int]) throws
}

/// One finished fill: its tokens (without the stop token), the stop token that ended it (nil
/// when the length limit did), and for beam search its length-normalised score.
public struct DecodedSequence: Sendable, Codable, Equatable {
    /// The generated ids, without the first token fed (sop) and the stop token.
    public var tokens: [Int]
    /// The stop id chosen after `tokens`, or nil when the fill reached the length limit.
    public var stopToken: Int?
    /// Beam search only: Σ log p / max(len, 1)^lengthPenalty, len = `tokens.count`.
    public var score: Double?

    /// A decoded span as ``Decoding`` returns it.
    public init(tokens: [Int], stopToken: Int?, score: Double? = nil) {
        self.tokens = tokens; self.stopToken = stopToken; self.score = score
    }
}

/// What a span decoder wants after seeing the logits of a step.
public enum DecoderStep: Sendable, Equatable {
    /// Feed these tokens next, one per sequence, after rearranging the sequences so that
    /// sequence i continues old sequence `sources[i]` (identity for sampling).
    case feed(tokens: [Int], sources: [Int])
    /// The span is done.
    case finished(DecodedSequence)
}

/// Greedy or sampled decoding of one span, one step at a time, as the official
/// `sample_sequence` (docs/official-glm.md §7.1): the batched ``FillEngine`` and the
/// ``Decoding/sample(_:first:stopIds:history:config:rng:onToken:)`` driver both run it, so there
/// is one sampler.
public struct SampleDecoder: Sendable {
    public let config: GenerationConfig
    public let stopIds: [Int]
    /// What the repetition penalty looks at besides the generated tokens.
    public let history: [Int]
    let rng: RandomState
    /// What was generated for the context before this span when its blanks are one stream
    /// (``GenerationConfig/blanksAsOneStream``): earlier fills, each followed by sop. It counts
    /// towards the length limit, the minimum length and the n-grams; empty otherwise.
    public let prefix: [Int]
    /// The tokens chosen so far.
    public private(set) var generated: [Int] = []

    /// Draws one uniform per step from the counter stream `rng` (shared across a context's blanks).
    public init(config: GenerationConfig, stopIds: [Int], history: [Int], rng: RandomState, prefix: [Int] = []) {
        self.config = config; self.stopIds = stopIds; self.history = history; self.rng = rng; self.prefix = prefix
    }

    /// Chooses the next token from the logits `row` that followed feeding the last one. The
    /// token that ends the span (a stop id, or the last one at the length limit) is not fed.
    public mutating func next(_ logits: [Float]) -> DecoderStep {
        var row = logits
        LogitsProcessing.process(&row, config: config, generated: prefix.isEmpty ? generated : prefix + generated,
                                 history: history + generated, stopIds: stopIds)
        var u: Float = 0
        if !config.greedy { CounterRNG.fillUniform(&u, count: 1, seed: rng.seed, offset: rng.advance(1)) }
        let next = LogitsProcessing.sample(row, config: config, u: u)
        if stopIds.contains(next) { return .finished(DecodedSequence(tokens: generated, stopToken: next)) }
        generated.append(next)
        if prefix.count + generated.count >= config.maxNewTokens { return .finished(DecodedSequence(tokens: generated, stopToken: nil)) }
        return .feed(tokens: [next], sources: [0])
    }
}

/// Beam search over one span, one step at a time, as the official seq2seq evaluator runs it
/// (docs/official-glm.md §6.2, HF `BeamSearchScorer` with `--select-topk`).
///
/// Per step, every live beam's log-softmax row is processed (bans, min length, n-grams,
/// repetition penalty; set to −∞, not renormalised) and added to the beam's sum; the top
/// 2·beams candidates are walked best first: a stop token ranked within the top `beams`
/// finishes a hypothesis (its tokens, without the stop token), any other token continues a
/// beam, until `beams` beams continue. A hypothesis scores Σ log p / max(len, 1)^lengthPenalty
/// where len counts its generated tokens — not sop, not the stop token. At the length limit
/// the live beams are finished too. The result is the best hypothesis.
public struct BeamDecoder: Sendable {
    public let config: GenerationConfig
    public let stopIds: [Int]
    public let history: [Int]
    /// Sequences decoded side by side: `max(config.numBeams, 1)`.
    public let beams: Int
    var live: [(tokens: [Int], sum: Double)]
    var hyps: Hypotheses
    var step = 0

    public init(config: GenerationConfig, stopIds: [Int], history: [Int]) {
        self.config = config; self.stopIds = stopIds; self.history = history
        beams = max(config.numBeams, 1)
        live = [([], 0)] + Array(repeating: ([], -.infinity), count: beams - 1)
        hyps = Hypotheses(beams: beams, lengthPenalty: Double(config.lengthPenalty), earlyStopping: config.earlyStopping)
    }

    /// Takes the `beams` logits rows that followed the last fed tokens.
    public mutating func next(_ rows: [[Float]]) -> DecoderStep {
        precondition(rows.count == beams, "beam search over \(beams) sequences got \(rows.count) rows")
        // The best 2·beams (sum, beam, token), kept sorted: best first, ties by lower beam, lower token.
        let k = 2 * beams
        var top: [(sum: Double, beam: Int, token: Int)] = []
        func better(_ a: (sum: Double, beam: Int, token: Int), _ b: (sum: Double, beam: Int, token: Int)) -> Bool {
            a.sum != b.sum ? a.sum > b.sum : (a.beam != b.beam ? a.beam < b.beam : a.token < b.token)
        }
        for (b, row) in rows.enumerated() where live[b].sum > -.infinity {
            var lp = LogitsProcessing.logSoftmax(row)
            LogitsProcessing.process(&lp, config: config, generated: live[b].tokens,
                                     history: history + live[b].tokens, stopIds: stopIds)
            for (t, l) in lp.enumerated() where l > -.infinity {
                let c = (sum: live[b].sum + l, beam: b, token: t)
                if top.count == k, !better(c, top[k - 1]) { continue }
                let at = top.firstIndex { better(c, $0) } ?? top.count
                top.insert(c, at: at)
                if top.count > k { top.removeLast() }
            }
        }
        var next: [(tokens: [Int], sum: Double, source: Int, token: Int)] = []
        for (rank, c) in top.enumerated() {
            if stopIds.contains(c.token) {
                if rank < beams { hyps.add(live[c.beam].tokens, sum: c.sum, stopToken: c.token) }
            } else {
                next.append((live[c.beam].tokens + [c.token], c.sum, c.beam, c.token))
            }
            if next.count == beams { break }
        }
        let done = next.isEmpty || hyps.isDone(bestSum: top.first?.sum ?? -.infinity, currentLength: step)
        // Fewer continuations than beams (a tiny or mostly banned vocabulary): dead beams fill the rest.
        while !next.isEmpty && next.count < beams { next.append(([], -.infinity, next[0].source, next[0].token)) }
        if !next.isEmpty { live = next.map { ($0.tokens, $0.sum) } }
        step += 1
        if !done && step >= config.maxNewTokens {
            for l in live where l.sum > -.infinity { hyps.add(l.tokens, sum: l.sum, stopToken: nil) }
        }
        if done || step >= config.maxNewTokens {
            return .finished(hyps.best ?? DecodedSequence(tokens: [], stopToken: nil, score: -.infinity))
        }
        return .feed(tokens: next.map(\.token), sources: next.map(\.source))
    }

    /// The finished hypotheses: the best `beams` by score, as the official `BeamHypotheses`.
    struct Hypotheses: Sendable {
        let beams: Int
        let lengthPenalty: Double
        let earlyStopping: Bool
        var kept: [DecodedSequence] = []

        func normalised(_ sum: Double, length: Int) -> Double { sum / pow(Double(max(length, 1)), lengthPenalty) }

        var worst: Double { kept.map { $0.score! }.min() ?? -.infinity }

        mutating func add(_ tokens: [Int], sum: Double, stopToken: Int?) {
            let score = normalised(sum, length: tokens.count)
            guard kept.count < beams || score > worst else { return }
            kept.append(DecodedSequence(tokens: tokens, stopToken: stopToken, score: score))
            if kept.count > beams, let w = kept.indices.min(by: { kept[$0].score! < kept[$1].score! }) {
                kept.remove(at: w)
            }
        }

        /// The official `is_done`: enough finished, and either early stopping or the best
        /// candidate score of this step (normalised by the length *before* the step, as the
        /// official code does) cannot beat the worst kept.
        func isDone(bestSum: Double, currentLength: Int) -> Bool {
            if kept.count < beams { return false }
            if earlyStopping { return true }
            return worst >= normalised(bestSum, length: currentLength)
        }

        /// The highest score; among equal scores the last added, as the official sort-and-pop.
        var best: DecodedSequence? {
            kept.indices.max(by: { kept[$0].score! <= kept[$1].score! }).map { kept[$0] }
        }
    }
}

/// Drivers that run one span's decoder against a ``StepModel`` (docs/official-glm.md §6.2, §7.1).
public enum Decoding {
    /// Decodes from `first` (the sop) with a ``SampleDecoder`` until a stop id or
    /// `config.maxNewTokens` tokens. `onToken` sees every token as it is chosen.
    public static func sample<M: StepModel>(_ model: inout M, first: Int, stopIds: [Int], history: [Int],
                                            config: GenerationConfig, rng: RandomState,
                                            onToken: ((Int) -> Void)? = nil) throws -> DecodedSequence {
        var decoder = SampleDecoder(config: config, stopIds: stopIds, history: history, rng: rng)
        var token = first
        for step in 0... {
            switch decoder.next(try model.step([token], step: step)[0]) {
            case let .feed(tokens, _):
                token = tokens[0]
                onToken?(token)
            case let .finished(seq):
                if seq.stopToken == nil, let last = seq.tokens.last { onToken?(last) }
                return seq
            }
        }
        fatalError("unreachable")
    }

    /// Beam search from `first` with a ``BeamDecoder``; `model.width` must equal
    /// `max(config.numBeams, 1)`; sampling settings are ignored.
    public static func beamSearch<M: StepModel>(_ model: inout M, first: Int, stopIds: [Int], history: [Int],
                                                config: GenerationConfig) throws -> DecodedSequence {
        let beams = model.width
        guard beams == max(config.numBeams, 1) else {
            throw GLMError.invalidInput("beam search over \(beams) sequences, but numBeams is \(config.numBeams)")
        }
        var decoder = BeamDecoder(config: config, stopIds: stopIds, history: history)
        var inputs = [Int](repeating: first, count: beams)
        for step in 0... {
            switch decoder.next(try model.step(inputs, step: step)) {
            case let .feed(tokens, sources):
                try model.reorder(sources)
                inputs = tokens
            case let .finished(seq):
                return seq
            }
        }
        fatalError("unreachable")
    }
}
