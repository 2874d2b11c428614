import Foundation
import GLMTensor

/// A model seen one decoding step at a time, for ``Decoding``: GLM with its KV cache in
/// ``BlankFiller``, or a hand-built distribution in tests.
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

/// Greedy, sampled and beam-search decoding of one span (docs/official-glm.md §6.2, §7.1).
public enum Decoding {
    /// Decodes from `first` (the sop) until a stop id or `config.maxNewTokens` tokens, as the
    /// official `sample_sequence`. Sampling draws one uniform per step from the counter stream
    /// `rng`; `history` is what the repetition penalty looks at besides the generated tokens.
    /// `onToken` sees every token as it is chosen.
    public static func sample<M: StepModel>(_ model: inout M, first: Int, stopIds: [Int], history: [Int],
                                            config: GenerationConfig, rng: RandomState,
                                            onToken: ((Int) -> Void)? = nil) throws -> DecodedSequence {
        var generated: [Int] = []
        var token = first
        for step in 0..<config.maxNewTokens {
            var row = try model.step([token], step: step)[0]
            LogitsProcessing.process(&row, config: config, generated: generated, history: history + generated, stopIds: stopIds)
            var u: Float = 0
            if !config.greedy { CounterRNG.fillUniform(&u, count: 1, seed: rng.seed, offset: rng.advance(1)) }
            let next = LogitsProcessing.sample(row, config: config, u: u)
            if stopIds.contains(next) { return DecodedSequence(tokens: generated, stopToken: next) }
            generated.append(next)
            onToken?(next)
            token = next
        }
        return DecodedSequence(tokens: generated, stopToken: nil)
    }

    /// The finished hypotheses of one beam search: the best `beams` by score, as the official
    /// `BeamHypotheses` keeps them.
    struct Hypotheses {
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

    /// Beam search as the official seq2seq evaluator runs it (docs/official-glm.md §6.2, `BeamSearchScorer`
    /// with `--select-topk`).
    ///
    /// Per step, every live beam's log-softmax row is processed (bans, min length, n-grams,
    /// repetition penalty; set to −∞, not renormalised) and added to the beam's sum; the top
    /// 2·beams candidates are walked best first: a stop token ranked within the top `beams`
    /// finishes a hypothesis (its tokens, without the stop token), any other token continues a
    /// beam, until `beams` beams continue. A hypothesis scores Σ log p / max(len, 1)^lengthPenalty
    /// where len counts its generated tokens — not sop, not the stop token. At the length limit
    /// the live beams are finished too. Returns the best hypothesis.
    ///
    /// `model.width` must equal `max(config.numBeams, 1)`; sampling settings are ignored.
    public static func beamSearch<M: StepModel>(_ model: inout M, first: Int, stopIds: [Int], history: [Int],
                                                config: GenerationConfig) throws -> DecodedSequence {
        let beams = model.width
        guard beams == max(config.numBeams, 1) else {
            throw GLMError.invalidInput("beam search over \(beams) sequences, but numBeams is \(config.numBeams)")
        }
        var live: [(tokens: [Int], sum: Double)] = [([], 0)] + Array(repeating: ([], -.infinity), count: beams - 1)
        var hyps = Hypotheses(beams: beams, lengthPenalty: Double(config.lengthPenalty), earlyStopping: config.earlyStopping)
        var inputs = [Int](repeating: first, count: beams)
        var done = false
        for step in 0..<config.maxNewTokens {
            let rows = try model.step(inputs, step: step)
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
            done = next.isEmpty || hyps.isDone(bestSum: top.first?.sum ?? -.infinity, currentLength: step)
            // Fewer continuations than beams (a tiny or mostly banned vocabulary): dead beams fill the rest.
            while !next.isEmpty && next.count < beams { next.append(([], -.infinity, next[0].source, next[0].token)) }
            if !next.isEmpty { live = next.map { ($0.tokens, $0.sum) } }
            if done { break }
            try model.reorder(next.map(\.source))
            inputs = next.map(\.token)
        }
        if !done {
            for l in live where l.sum > -.infinity { hyps.add(l.tokens, sum: l.sum, stopToken: nil) }
        }
        return hyps.best ?? DecodedSequence(tokens: [], stopToken: nil, score: -.infinity)
    }
}
