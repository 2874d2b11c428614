import Foundation

/// The per-step rules shared by sampling and beam search, on one row of scores `[V]`.
///
/// Sampling applies ``process(_:config:generated:history:stopIds:)`` to the logits, then
/// ``sample(_:config:u:)``; beam search applies it to the log-probabilities, without
/// renormalising, as the official evaluator's `LogitsProcessorList` does (docs/official-glm.md §6.2).
public enum LogitsProcessing {
    /// Bans (−∞) `config.bannedIds`, the `stopIds` below `config.minNewTokens`, and tokens that
    /// would repeat an n-gram of `generated`; applies the repetition penalty to every id of
    /// `history` (the prompt's text and what was generated so far).
    public static func process<T: BinaryFloatingPoint>(_ row: inout [T], config: GenerationConfig, generated: [Int],
                                                       history: [Int], stopIds: [Int]) {
        let vocab = row.count
        for id in config.bannedIds where id >= 0 && id < vocab { row[id] = -.infinity }
        if generated.count < config.minNewTokens {
            for id in stopIds where id >= 0 && id < vocab { row[id] = -.infinity }
        }
        if config.repetitionPenalty != 1 {
            let p = T(config.repetitionPenalty)
            for id in Set(history) where id >= 0 && id < vocab {
                row[id] = row[id] > 0 ? row[id] / p : row[id] * p
            }
        }
        // Fairseq's rule, as the official NoRepeatNGramLogitsProcessor: ban every token that
        // followed an earlier occurrence of the last n−1 generated tokens.
        let n = config.noRepeatNgram
        if n > 0, generated.count >= n {
            let prefix = generated.suffix(n - 1)
            for start in 0...(generated.count - n) where generated[start..<(start + n - 1)].elementsEqual(prefix) {
                let banned = generated[start + n - 1]
                if banned >= 0 && banned < vocab { row[banned] = -.infinity }
            }
        }
    }

    /// log-softmax of a row, in Double so that beam scores summed over many steps stay exact.
    public static func logSoftmax(_ row: [Float]) -> [Double] {
        var mx = -Double.infinity
        for x in row { mx = max(mx, Double(x)) }
        guard mx > -.infinity else { return row.map { _ in -.infinity } }
        var z = 0.0
        for x in row { z += Foundation.exp(Double(x) - mx) }
        let lse = mx + Foundation.log(z)
        return row.map { Double($0) - lse }
    }

    /// The first index of the largest value.
    public static func argmax<T: Comparable>(_ row: [T]) -> Int {
        var best = 0
        for i in row.indices.dropFirst() where row[i] > row[best] { best = i }
        return best
    }

    /// One draw from the processed logits `row` with the uniform number `u` ∈ [0, 1), in the
    /// official order (docs/official-glm.md §7.1): divide by the temperature, keep the top k, keep the top-p
    /// nucleus, then walk the cumulative distribution of what is left (most likely first, ties by
    /// lower id). Greedy configs and rows with every id banned give the argmax.
    public static func sample(_ row: [Float], config: GenerationConfig, u: Float) -> Int {
        if config.greedy { return argmax(row) }
        var cand: [(id: Int, logit: Float)] = []
        cand.reserveCapacity(row.count)
        for (i, x) in row.enumerated() where x > -.infinity { cand.append((i, x / config.temperature)) }
        if cand.isEmpty { return argmax(row) }
        cand.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if config.topK > 0 && cand.count > config.topK { cand.removeLast(cand.count - config.topK) }
        let mx = cand[0].logit
        var probs = cand.map { Foundation.exp(Double($0.logit - mx)) }
        var z = probs.reduce(0, +)
        if config.topP > 0 && config.topP < 1 {
            // Keep up to and including the first token whose cumulative probability exceeds p.
            var acc = 0.0, keep = probs.count
            for (i, p) in probs.enumerated() {
                acc += p / z
                if acc > Double(config.topP) { keep = i + 1; break }
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
