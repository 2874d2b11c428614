import Foundation
import XCTest
import GLM

/// ``LogitsProcessing/sample(_:config:u:)`` sorts its candidates with a radix sort; this checks it
/// draws exactly what the plain rule draws — candidates sorted by a comparison (larger scaled logit
/// first, ties by lower id), then top-k, top-p and the walk — on rows with ties, ±0, ±∞ and bans.
final class SamplingOrderTests: XCTestCase {
    /// The rule written plainly (the twin of the fast path).
    static func reference(_ row: [Float], config: GenerationConfig, u: Float) -> Int {
        var cand: [(id: Int, logit: Float)] = []
        for (i, x) in row.enumerated() where x > -.infinity { cand.append((i, x / config.temperature)) }
        if cand.isEmpty { return LogitsProcessing.argmax(row) }
        cand.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if config.topK > 0 && cand.count > config.topK { cand.removeLast(cand.count - config.topK) }
        let mx = cand[0].logit
        var probs = cand.map { Foundation.exp(Double($0.logit - mx)) }
        var z = probs.reduce(0, +)
        if config.topP > 0 && config.topP < 1 {
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

    func testRadixSortedSamplingDrawsWhatTheComparisonSortDraws() {
        var g = SystemRandomNumberGenerator()
        for trial in 0..<150 {
            let vocab = [1, 2, 7, 300, 5000, 30592][trial % 6]
            var row: [Float] = (0..<vocab).map { _ in
                switch Int.random(in: 0..<20, using: &g) {
                case 0: return -.infinity
                case 1: return 0
                case 2: return -0.0
                case 3: return Float(Int.random(in: -3...3, using: &g))   // many exact ties
                case 4: return Float.random(in: -1e-30...1e-30, using: &g)  // subnormal-sized values
                default: return Float.random(in: -12...12, using: &g)
                }
            }
            if trial % 50 == 7 { row[Int.random(in: 0..<vocab, using: &g)] = .infinity }
            if trial % 60 == 11 { row = row.map { _ in -.infinity } }
            var cfg = GenerationConfig()
            cfg.temperature = [1, 0.7, 1.3, 0.05][trial % 4]
            cfg.topK = [0, 1, 5, 40][(trial / 4) % 4]
            cfg.topP = [1, 0.9, 0.5, 0][(trial / 16) % 4]
            for u in [Float(0), 0.25, 0.5, 0.999, Float.random(in: 0..<1, using: &g)] {
                XCTAssertEqual(LogitsProcessing.sample(row, config: cfg, u: u), Self.reference(row, config: cfg, u: u),
                               "trial \(trial), vocab \(vocab), T \(cfg.temperature), k \(cfg.topK), p \(cfg.topP), u \(u)")
            }
        }
    }
}
