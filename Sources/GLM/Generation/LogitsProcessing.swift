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
        var ids: [Int32] = [], logits: [Float] = []
        ids.reserveCapacity(row.count); logits.reserveCapacity(row.count)
        for (i, x) in row.enumerated() where x > -.infinity {
            ids.append(Int32(i))
            logits.append(x / config.temperature + 0)   // + 0 turns −0 into +0: the two tie, as in a comparison
        }
        if ids.isEmpty { return argmax(row) }
        sortDescending(&ids, &logits)
        var count = ids.count
        if config.topK > 0 && count > config.topK { count = config.topK }
        let mx = logits[0]
        var probs = (0..<count).map { Foundation.exp(Double(logits[$0] - mx)) }
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
            if target < acc { return Int(ids[i]) }
        }
        return Int(ids[probs.count - 1])
    }

    /// Sorts `logits` from largest to smallest, ties by lower id, carrying `ids` along (given in
    /// increasing order, no NaN, no −0): a stable LSD radix sort on an order-preserving 32-bit key,
    /// four passes of a byte. A comparison sort of the ~30k candidates of a vocabulary row took
    /// milliseconds, per row and step: with 16 sequences decoding together it cost more than the
    /// forward pass.
    static func sortDescending(_ ids: inout [Int32], _ logits: inout [Float]) {
        let n = ids.count
        // Larger floats get smaller keys: flip every bit of a positive float's sign-set pattern.
        var keys = logits.map { x -> UInt32 in
            let b = x.bitPattern
            return b & 0x8000_0000 != 0 ? b : ~(b | 0x8000_0000)
        }
        var keys2 = [UInt32](repeating: 0, count: n), ids2 = [Int32](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 256)
        for shift in stride(from: 0, to: 32, by: 8) {
            for i in 0..<256 { counts[i] = 0 }
            for k in keys { counts[Int((k >> UInt32(shift)) & 0xFF)] += 1 }
            if counts.contains(n) { continue }   // every key has this byte: the pass would not move anything
            var sum = 0
            for i in 0..<256 { let c = counts[i]; counts[i] = sum; sum += c }
            for i in 0..<n {
                let d = Int((keys[i] >> UInt32(shift)) & 0xFF)
                keys2[counts[d]] = keys[i]; ids2[counts[d]] = ids[i]
                counts[d] += 1
            }
            swap(&keys, &keys2); swap(&ids, &ids2)
        }
        for i in 0..<n { logits[i] = Float(bitPattern: keys[i] & 0x8000_0000 != 0 ? keys[i] : ~keys[i] & 0x7FFF_FFFF) }
    }
}
