import Foundation

/// The official `AnnealingLR` (docs/official-glm.md §5; official `learning_rates.py:AnnealingLR`,
/// `train_utils.py:get_learning_rate_scheduler`): linear warmup over `warmupSteps` (a fraction of
/// the decay steps, not rounded, as the official `warmup · num_iters`), then cosine or linear decay
/// over the remaining `decaySteps − warmupSteps` to `minRatio · peak`.
///
/// The official scheduler starts at t = 0 and steps after each update, so update k (1-based)
/// runs with `lr(at: k − 1)`: with warmup, the first update has learning rate 0.
public struct AnnealingLR: Sendable, Codable, Equatable {
    public enum Style: String, Sendable, Codable { case cosine, linear, constant }
    public var peak: Double
    public var warmupSteps: Double
    public var decaySteps: Int
    public var style: Style
    public var minRatio: Double

    public init(peak: Double, warmupSteps: Double, decaySteps: Int, style: Style = .cosine, minRatio: Double = 0.05) {
        self.peak = peak; self.warmupSteps = warmupSteps; self.decaySteps = decaySteps
        self.style = style; self.minRatio = minRatio
    }

    /// The learning rate at step `t` (0-based count of updates done).
    public func lr(at t: Int) -> Double {
        let w = warmupSteps
        if w > 0 && Double(t) <= w { return peak * Double(t) / w }
        let span = max(Double(decaySteps) - w, 1)
        let frac = (Double(t) - w) / span
        switch style {
        case .constant: return peak
        case .cosine: return peak * (minRatio + (1 - minRatio) * (1 + cos(Double.pi * min(1, frac))) / 2)
        // The official linear schedule has no clamp: past decaySteps it keeps falling.
        case .linear: return peak * (1 - (1 - minRatio) * frac)
        }
    }
}
