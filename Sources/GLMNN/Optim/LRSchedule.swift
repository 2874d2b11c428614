import Foundation

/// The official `AnnealingLR` (docs/official-glm.md §5): linear warmup over `warmupSteps`, then cosine or
/// linear decay over the remaining `decaySteps − warmupSteps` to `minRatio · peak`.
public struct AnnealingLR: Sendable, Codable, Equatable {
    public enum Style: String, Sendable, Codable { case cosine, linear, constant }
    public var peak: Double
    public var warmupSteps: Int
    public var decaySteps: Int
    public var style: Style
    public var minRatio: Double

    public init(peak: Double, warmupSteps: Int, decaySteps: Int, style: Style = .cosine, minRatio: Double = 0.05) {
        self.peak = peak; self.warmupSteps = warmupSteps; self.decaySteps = decaySteps
        self.style = style; self.minRatio = minRatio
    }

    /// The learning rate at step `t` (0-based count of updates done).
    public func lr(at t: Int) -> Double {
        let w = Double(warmupSteps)
        if warmupSteps > 0 && Double(t) <= w { return peak * Double(t) / w }
        let span = Double(max(decaySteps - warmupSteps, 1))
        let frac = (Double(t) - w) / span
        switch style {
        case .constant: return peak
        case .cosine: return peak * (minRatio + (1 - minRatio) * (1 + cos(Double.pi * min(1, frac))) / 2)
        // The official linear schedule has no clamp: past decaySteps it keeps falling.
        case .linear: return peak * (1 - (1 - minRatio) * frac)
        }
    }
}
