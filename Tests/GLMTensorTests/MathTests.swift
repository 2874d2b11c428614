import XCTest
import Foundation
import GLMTensor

/// The SIMD exp/tanh/erf against the C library in Double, over a dense sweep and special values.
final class MathTests: XCTestCase {
    /// Dense sweep over [lo, hi] plus tiny magnitudes and a few special values; an odd count so the
    /// partial-vector tail runs, large enough that parallelFor splits.
    func inputs(_ lo: Float, _ hi: Float) -> [Float] {
        var xs: [Float] = []
        let n = 200_001
        for k in 0..<n { xs.append(lo + (hi - lo) * Float(k) / Float(n - 1)) }
        for e in stride(from: -40, through: -1, by: 1) { xs.append(Float(pow(10.0, Double(e)) * 1.2345)); xs.append(-Float(pow(10.0, Double(e)) * 1.2345)) }
        xs += [0, -0.0, .infinity, -.infinity, .nan, .leastNormalMagnitude, -.leastNormalMagnitude, 0.625, -0.625, 0.75, -0.75]
        return xs
    }

    func check(_ xs: [Float], _ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
               _ ref: (Double) -> Double, rtol: Double, atol: Double = 0, _ name: String) {
        var y = [Float](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { f(xp.baseAddress!, $0.baseAddress!, xs.count) } }
        // The reference rounded to Float, so a correct result is within rtol of it plus half an ulp.
        let expect = xs.map { Float(ref(Double($0))) }
        assertClose(y, expect, rtol: rtol, atol: atol, name)
    }

    func testExp() {
        let xs = inputs(-100, 100)
        check(xs, { CPUKernels.exp($0, $1, count: $2) }, Foundation.exp, rtol: 3e-7, atol: 1e-44, "exp")
        // Exactly 0 far below, +Inf above, as the softmax masks need.
        var y: [Float] = [0, 0, 0]
        CPUKernels.exp([-65504, -1000, 1000], &y, count: 3)
        XCTAssertEqual(y, [0, 0, .infinity])
    }

    func testTanh() {
        check(inputs(-20, 20), { CPUKernels.tanh($0, $1, count: $2) }, Foundation.tanh, rtol: 4e-7, "tanh")
    }

    func testErf() {
        check(inputs(-10, 10), { CPUKernels.erf($0, $1, count: $2) }, Foundation.erf, rtol: 4e-7, "erf")
    }

    func testInPlaceAlias() {
        var x: [Float] = (0..<37).map { Float($0) * 0.1 - 1.8 }
        let expect = x.map { Float(Foundation.tanh(Double($0))) }
        x.withUnsafeMutableBufferPointer { CPUKernels.tanh($0.baseAddress!, $0.baseAddress!, count: 37) }
        assertClose(x, expect, rtol: 4e-7, "in place")
    }
}
