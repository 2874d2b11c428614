import Foundation

/// Deterministic test inputs: SplitMix64, so every run sees the same numbers.
public struct TestRNG {
    public var state: UInt64
    public init(_ seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) * 0x1p-53
    }
    public mutating func normal() -> Double {
        let u1 = (Double(next() >> 11) + 1) * 0x1p-53, u2 = Double(next() >> 11) * 0x1p-53
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    public mutating func floats(_ n: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Float] {
        (0..<n).map { _ in Float(uniform(lo, hi)) }
    }
    public mutating func normals(_ n: Int, std: Double = 1) -> [Float] {
        (0..<n).map { _ in Float(normal() * std) }
    }
    public mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// Uniform in [-1, 1), as a Float.
    public mutating func float() -> Float { Float(uniform()) }
}
