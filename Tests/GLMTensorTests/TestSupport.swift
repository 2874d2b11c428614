import XCTest
import GLMTensor

/// Deterministic test inputs: SplitMix64, so every run sees the same numbers.
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) * 0x1p-53
    }
    mutating func normal() -> Double {
        let u1 = (Double(next() >> 11) + 1) * 0x1p-53, u2 = Double(next() >> 11) * 0x1p-53
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    mutating func floats(_ n: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Float] {
        (0..<n).map { _ in Float(uniform(lo, hi)) }
    }
    mutating func normals(_ n: Int, std: Double = 1) -> [Float] {
        (0..<n).map { _ in Float(normal() * std) }
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

func toDouble(_ a: [Float]) -> [Double] { a.map(Double.init) }

/// Asserts |a − b| ≤ atol + rtol·|b| elementwise, reporting the worst element.
func assertClose<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(
    _ a: [A], _ b: [B], rtol: Double, atol: Double = 0, _ what: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(a.count, b.count, "count \(what())", file: file, line: line)
    var worst = -1.0, worstAt = -1
    for i in 0..<min(a.count, b.count) {
        let x = Double(a[i]), y = Double(b[i])
        if x.isNaN && y.isNaN { continue }
        if x == y { continue }
        let excess = abs(x - y) - (atol + rtol * abs(y))
        if !(excess <= 0) && (excess > worst || excess.isNaN) { worst = excess.isNaN ? .infinity : excess; worstAt = i }
    }
    if worstAt >= 0 {
        XCTFail("\(what()): element \(worstAt): \(a[worstAt]) vs \(b[worstAt]) (rtol \(rtol), atol \(atol))", file: file, line: line)
    }
}

/// Central finite difference of a scalar function f at parameter index i of `x` (in Double).
func centralDifference(_ x: inout [Double], _ i: Int, h: Double = 1e-6, _ f: ([Double]) -> Double) -> Double {
    let old = x[i]
    x[i] = old + h; let fp = f(x)
    x[i] = old - h; let fm = f(x)
    x[i] = old
    return (fp - fm) / (2 * h)
}
