import Foundation
import GLMTensor

/// The per-step logit rules shared by sampling and beam search, applied in place to one row of
/// logits `[V]`.
enum LogitsProcessing {
    /// Bans (−∞) `banned` ids, eop/eos below the minimum length, and n-gram repeats; applies the
    /// repetition penalty over `history` (context + tokens generated so far).
    static func apply(_ logits: UnsafeMutablePointer<Float>, vocab: Int, config: GenerationConfig,
                      generated: [Int], history: [Int], stopIds: [Int]) {
        for id in config.bannedIds where id >= 0 && id < vocab { logits[id] = -.infinity }
        if generated.count < config.minNewTokens {
            for id in stopIds where id < vocab { logits[id] = -.infinity }
        }
        if config.repetitionPenalty != 1 {
            for id in Set(history) where id >= 0 && id < vocab {
                logits[id] = logits[id] > 0 ? logits[id] / config.repetitionPenalty : logits[id] * config.repetitionPenalty
            }
        }
        let n = config.noRepeatNgram
        if n > 0, generated.count >= n - 1 {
            let prefix = Array(generated.suffix(n - 1))
            if generated.count >= n {
                for start in 0...(generated.count - n) where Array(generated[start..<(start + n - 1)]) == prefix {
                    let banned = generated[start + n - 1]
                    if banned < vocab { logits[banned] = -.infinity }
                }
            }
        }
    }

    /// log-softmax of a row, in Double for stable beam scores.
    static func logSoftmax(_ logits: UnsafePointer<Float>, vocab: Int) -> [Double] {
        var mx = -Double.infinity
        for i in 0..<vocab { mx = max(mx, Double(logits[i])) }
        var z = 0.0
        for i in 0..<vocab { z += Foundation.exp(Double(logits[i]) - mx) }
        let lse = mx + Foundation.log(z)
        return (0..<vocab).map { Double(logits[$0]) - lse }
    }

    static func argmax(_ logits: UnsafePointer<Float>, vocab: Int) -> Int {
        var best = 0
        for i in 1..<vocab where logits[i] > logits[best] { best = i }
        return best
    }

    /// Temperature, then top-k, then top-p, then one draw with uniform `u` ∈ [0, 1) (§7.1).
    static func sample(_ logits: UnsafePointer<Float>, vocab: Int, config: GenerationConfig, u: Float) -> Int {
        var cand: [(id: Int, logit: Float)] = []
        cand.reserveCapacity(vocab)
        for i in 0..<vocab where logits[i] > -.infinity { cand.append((i, logits[i] / config.temperature)) }
        if cand.isEmpty { return argmax(logits, vocab: vocab) }
        cand.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if config.topK > 0 && cand.count > config.topK { cand.removeLast(cand.count - config.topK) }
        let mx = cand[0].logit
        var probs = cand.map { Double(Foundation.exp($0.logit - mx)) }
        var z = probs.reduce(0, +)
        if config.topP > 0 && config.topP < 1 {
            var acc = 0.0, keep = probs.count
            for (i, p) in probs.enumerated() {
                acc += p / z
                if acc >= Double(config.topP) { keep = i + 1; break }
            }
            probs.removeLast(probs.count - keep)
            z = probs.reduce(0, +)
        }
        let target = Double(u) * z
        var acc = 0.0
        for (i, p) in probs.enumerated() {
            acc += p
            if target < acc { return cand[i].id }
        }
        return cand[probs.count - 1].id
    }
}
