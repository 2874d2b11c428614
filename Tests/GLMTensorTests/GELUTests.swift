import XCTest
import GLMTensor
import GLMTestSupport

final class GELUTests: XCTestCase {
    let sizes = [1, 3, 17, 31, 100, 1025, 100_003]

    func testForwardAgainstReference() {
        var rng = TestRNG(10)
        for approx in GELUApproximation.allCases {
            for n in sizes {
                let x = rng.floats(n, -6, 6)
                var y = [Float](repeating: 0, count: n)
                CPUKernels.geluForward(x, &y, count: n, approximation: approx)
                var yd = [Double](repeating: 0, count: n)
                ReferenceKernels.geluForward(toDouble(x), &yd, count: n, approximation: approx)
                // 1e-5: in the left tail the result is e^(−2u)-small and u itself carries float
                // rounding (|2u|·2^-24 ≈ 1.5e-6 relative at x = −6), a conditioning no float
                // kernel escapes; elsewhere the error is ~1e-7.
                assertClose(y, yd, rtol: 1e-5, atol: 1e-30, "gelu \(approx) n=\(n)")
                let central = (0..<n).filter { abs(x[$0]) < 2 }
                assertClose(central.map { y[$0] }, central.map { yd[$0] }, rtol: 1e-6, atol: 1e-30, "gelu \(approx) |x| < 2")
                var yf = [Float](repeating: 0, count: n)
                ReferenceKernels.geluForward(x, &yf, count: n, approximation: approx)
                assertClose(y, yf, rtol: 1e-5, atol: 1e-6, "gelu \(approx) vs Float reference n=\(n)")
            }
        }
    }

    func testSpecialValues() {
        for approx in GELUApproximation.allCases {
            let x: [Float] = [0, -0.0, .infinity, .nan, 30, -30, 1e-30, -1e-30]
            var y = [Float](repeating: 1, count: x.count)
            CPUKernels.geluForward(x, &y, count: x.count, approximation: approx)
            XCTAssertEqual(y[0], 0); XCTAssertEqual(y[1], 0)
            XCTAssertEqual(y[2], .infinity); XCTAssertTrue(y[3].isNaN)
            XCTAssertEqual(y[4], 30); XCTAssertEqual(y[5], 0)
            XCTAssertEqual(y[6], 0.5e-30, accuracy: 1e-36); XCTAssertEqual(y[7], -0.5e-30, accuracy: 1e-36)
            var g = [Float](repeating: 0, count: x.count)
            CPUKernels.geluBackward(x, dY: [Float](repeating: 1, count: x.count), dX: &g, count: x.count, approximation: approx)
            XCTAssertEqual(g[0], 0.5, accuracy: 1e-7); XCTAssertEqual(g[4], 1); XCTAssertEqual(g[5], 0)
            XCTAssertTrue(g[3].isNaN)
        }
    }

    /// The reference derivative against central differences of the reference forward in Double,
    /// then the fast backward against the reference backward.
    func testBackward() {
        var rng = TestRNG(11)
        for approx in GELUApproximation.allCases {
            let xs = (0..<401).map { -8 + 16 * Double($0) / 400 } + [1e-3, -1e-3, 0.7071, -0.7071]
            for x in xs {
                var v = [x]
                let fd = centralDifference(&v, 0, h: 1e-5) { ReferenceKernels.gelu($0[0], approximation: approx) }
                XCTAssertEqual(ReferenceKernels.geluDerivative(x, approximation: approx), fd, accuracy: 1e-8, "\(approx) x=\(x)")
            }
            for n in sizes {
                let x = rng.floats(n, -6, 6), dY = rng.floats(n)
                var dX = [Float](repeating: 0, count: n)
                CPUKernels.geluBackward(x, dY: dY, dX: &dX, count: n, approximation: approx)
                var dXd = [Double](repeating: 0, count: n)
                ReferenceKernels.geluBackward(toDouble(x), dY: toDouble(dY), dX: &dXd, count: n, approximation: approx)
                assertClose(dX, dXd, rtol: 1e-5, atol: 1e-6, "gelu' \(approx) n=\(n)")
                // In place (dX aliasing dY).
                var inPlace = dY
                inPlace.withUnsafeMutableBufferPointer {
                    CPUKernels.geluBackward(x, dY: $0.baseAddress!, dX: $0.baseAddress!, count: n, approximation: approx)
                }
                XCTAssertEqual(inPlace, dX)
            }
        }
    }

    func testFusedBiasGelu() {
        var rng = TestRNG(12)
        for approx in GELUApproximation.allCases {
            for (n, c) in [(1, 3), (7, 17), (33, 100), (130, 1024)] {
                let x0 = rng.floats(n * c, -4, 4), bias = rng.floats(c)
                var x = x0, y = [Float](repeating: 0, count: n * c)
                CPUKernels.biasGeluForward(&x, bias: bias, &y, n: n, c: c, approximation: approx)
                var xr = x0
                CPUKernels.addBias(&xr, bias: bias, n: n, c: c)
                var yr = [Float](repeating: 0, count: n * c)
                CPUKernels.geluForward(xr, &yr, count: n * c, approximation: approx)
                XCTAssertEqual(x, xr); XCTAssertEqual(y, yr)
                var xd = toDouble(x0), yd = [Double](repeating: 0, count: n * c)
                ReferenceKernels.biasGeluForward(&xd, bias: toDouble(bias), &yd, n: n, c: c, approximation: approx)
                assertClose(y, yd, rtol: 1e-5, atol: 1e-6, "biasGelu \(approx)")

                let dY = rng.floats(n * c)
                var dX = [Float](repeating: 0, count: n * c), dB = [Float](repeating: 0, count: c)
                CPUKernels.biasGeluBackward(x, dY: dY, dX: &dX, dBias: &dB, n: n, c: c, approximation: approx)
                var dXd = [Double](repeating: 0, count: n * c), dBd = [Double](repeating: 0, count: c)
                ReferenceKernels.biasGeluBackward(toDouble(x), dY: toDouble(dY), dX: &dXd, dBias: &dBd, n: n, c: c, approximation: approx)
                assertClose(dX, dXd, rtol: 1e-5, atol: 1e-6, "biasGelu dX \(approx)")
                assertClose(dB, dBd, rtol: 1e-5, atol: 1e-5, "biasGelu dBias \(approx)")
            }
        }
    }
}
