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

/// One finished fill: its tokens (without the stop token), why it stopped, and for beam search
/// its length-normalised score.
public struct DecodedSequence: Sendable, Codable, Equatable {
    public var tokens: [Int]
    public var stop: String
    public var score: Double?
}

/// Greedy, sampled and beam-search decoding of one span (glm-spec §6.2, §7.1).
public enum Decoding {
    /// Decodes from `first` (the sop) until a stop id or `config.maxNewTokens`. Sampling draws
    /// from the counter stream `rng`; `history` is the context for the repetition penalty.
    public static func sample<M: StepModel>(_ model: inout M, first: Int, stopIds: [Int], history: [Int],
                                            config: GenerationConfig, rng: RandomState,
                                            onToken: ((Int) -> Void)? = nil) throws -> DecodedSequence {
        var generated: [Int] = []
        var token = first
        for step in 0..<config.maxNewTokens {
            var row = try model.step([token], step: step)[0]
            let vocab = row.count
            let next: Int = row.withUnsafeMutableBufferPointer { p in
                LogitsProcessing.apply(p.baseAddress!, vocab: vocab, config: config, generated: generated,
                                       history: history + generated, stopIds: stopIds)
                if config.greedy { return LogitsProcessing.argmax(p.baseAddress!, vocab: vocab) }
                var u: Float = 0
                CounterRNG.fillUniform(&u, count: 1, seed: rng.seed, offset: rng.advance(1))
                return LogitsProcessing.sample(p.baseAddress!, vocab: vocab, config: config, u: u)
            }
            if stopIds.contains(next) { return DecodedSequence(tokens: generated, stop: "eop", score: nil) }
            generated.append(next)
            onToken?(next)
            token = next
        }
        return DecodedSequence(tokens: generated, stop: "length", score: nil)
    }

    /// Beam search in the Hugging Face style the official evaluator uses: each step keeps the
    /// top 2·beams continuations of the cumulative log-probabilities; a continuation that picks a
    /// stop id (within the top `beams`) finishes a hypothesis scored Σ log p / len^lengthPenalty,
    /// len counting the generated tokens and the stop token. Returns the best hypothesis.
    public static func beamSearch<M: StepModel>(_ model: inout M, first: Int, stopIds: [Int], history: [Int],
                                                config: GenerationConfig) throws -> DecodedSequence {
        let beams = model.width
        precondition(beams == config.numBeams, "model width \(beams) != numBeams \(config.numBeams)")
        var live: [(tokens: [Int], score: Double)] = [([], 0)] + Array(repeating: ([], -.infinity), count: beams - 1)
        var finished: [DecodedSequence] = []
        func norm(_ score: Double, _ len: Int) -> Double { score / pow(Double(max(len, 1)), Double(config.lengthPenalty)) }
        func worstFinished() -> Double { finished.map { $0.score! }.min() ?? -.infinity }
        func add(_ seq: DecodedSequence) {
            finished.append(seq)
            if finished.count > beams {
                finished.sort { $0.score! > $1.score! }
                finished.removeLast()
            }
        }
        var inputs = [Int](repeating: first, count: beams)
        for step in 0..<config.maxNewTokens {
            let rows = try model.step(inputs, step: step)
            var cands: [(score: Double, beam: Int, token: Int)] = []
            for (b, var row) in rows.enumerated() where live[b].score > -.infinity {
                let vocab = row.count
                let lp: [Double] = row.withUnsafeMutableBufferPointer { p in
                    LogitsProcessing.apply(p.baseAddress!, vocab: vocab, config: config, generated: live[b].tokens,
                                           history: history + live[b].tokens, stopIds: stopIds)
                    return LogitsProcessing.logSoftmax(p.baseAddress!, vocab: vocab)
                }
                for (t, l) in lp.enumerated() where l > -.infinity { cands.append((live[b].score + l, b, t)) }
            }
            cands.sort { ($0.score, -$0.beam, -$0.token) > ($1.score, -$1.beam, -$1.token) }
            var next: [(tokens: [Int], score: Double, source: Int, token: Int)] = []
            for (rank, c) in cands.prefix(2 * beams).enumerated() {
                if stopIds.contains(c.token) {
                    if rank < beams {
                        let toks = live[c.beam].tokens
                        add(DecodedSequence(tokens: toks, stop: "eop", score: norm(c.score, toks.count + 1)))
                    }
                } else {
                    next.append((live[c.beam].tokens + [c.token], c.score, c.beam, c.token))
                }
                if next.count == beams { break }
            }
            if next.isEmpty { break }
            while next.count < beams { next.append(([], -.infinity, next[0].source, next[0].token)) }
            // Done when enough hypotheses are finished and (without early stopping) no live beam
            // can still beat the worst of them.
            if finished.count >= beams {
                if config.earlyStopping { break }
                let bestLive = next.map { norm($0.score, $0.tokens.count) }.max() ?? -.infinity
                if worstFinished() >= bestLive { break }
            }
            try model.reorder(next.map(\.source))
            live = next.map { ($0.tokens, $0.score) }
            inputs = next.map(\.token)
            if step == config.maxNewTokens - 1 {
                for l in live where l.score > -.infinity {
                    add(DecodedSequence(tokens: l.tokens, stop: "length", score: norm(l.score, l.tokens.count)))
                }
            }
        }
        guard let best = finished.max(by: { $0.score! < $1.score! }) else {
            return DecodedSequence(tokens: live[0].tokens, stop: "length", score: norm(live[0].score, live[0].tokens.count))
        }
        return best
    }
}
