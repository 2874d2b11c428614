import XCTest
import GLMTensor
import GLMTestSupport

final class ElementwiseTests: XCTestCase {
    let sizes = [1, 3, 16, 17, 31, 100, 1000, 70_001]

    func testAddAxpyScaleFill() {
        var rng = TestRNG(1)
        for n in sizes {
            let a = rng.floats(n), b = rng.floats(n)
            var out = [Float](repeating: 0, count: n), ref = out
            CPUKernels.add(a, b, &out, count: n)
            ReferenceKernels.add(a, b, &ref, count: n)
            XCTAssertEqual(out, ref, "add \(n)")
            var x = a, xr = a
            CPUKernels.addInPlace(&x, b, count: n)
            ReferenceKernels.addInPlace(&xr, b, count: n)
            XCTAssertEqual(x, xr, "addInPlace \(n)")
            var y = b, yr = toDouble(b)
            CPUKernels.axpy(alpha: 0.37, a, &y, count: n)
            ReferenceKernels.axpy(alpha: Double(Float(0.37)), toDouble(a), &yr, count: n)
            assertClose(y, yr, rtol: 1e-6, atol: 1e-7, "axpy \(n)")
            var s = a
            CPUKernels.scale(&s, count: n, factor: -2.5)
            XCTAssertEqual(s, a.map { $0 * -2.5 }, "scale \(n)")
            var f = a
            CPUKernels.fill(&f, count: n, value: 3)
            XCTAssertEqual(f, [Float](repeating: 3, count: n))
        }
    }

    func testStridedRows() {
        var rng = TestRNG(2)
        let rows = 37, cols = 19, srcStride = 50, dstStride = 23
        let src = rng.floats(rows * srcStride)
        var dst = rng.floats(rows * dstStride)
        let before = dst
        CPUKernels.copyRows(src, srcStride: srcStride, &dst, dstStride: dstStride, rows: rows, cols: cols)
        for r in 0..<rows {
            for c in 0..<dstStride {
                XCTAssertEqual(dst[r * dstStride + c], c < cols ? src[r * srcStride + c] : before[r * dstStride + c])
            }
        }
        var acc = before
        CPUKernels.addRows(src, srcStride: srcStride, &acc, dstStride: dstStride, rows: rows, cols: cols)
        for r in 0..<rows {
            for c in 0..<dstStride {
                let e = c < cols ? before[r * dstStride + c] + src[r * srcStride + c] : before[r * dstStride + c]
                XCTAssertEqual(acc[r * dstStride + c], e)
            }
        }
    }

    func testBiasForwardBackward() {
        var rng = TestRNG(3)
        for (n, c) in [(1, 1), (3, 17), (5, 31), (64, 100), (513, 1024)] {
            let x = rng.floats(n * c), bias = rng.floats(c)
            var y = x, yr = toDouble(x)
            CPUKernels.addBias(&y, bias: bias, n: n, c: c)
            ReferenceKernels.addBias(&yr, bias: toDouble(bias), n: n, c: c)
            assertClose(y, yr, rtol: 1e-7, atol: 1e-7, "addBias \(n)x\(c)")
            let dY = rng.floats(n * c)
            let dB0 = rng.floats(c)
            var dB = dB0, dBr = toDouble(dB0)
            CPUKernels.biasBackward(dY: dY, dBias: &dB, n: n, c: c)
            ReferenceKernels.biasBackward(dY: toDouble(dY), dBias: &dBr, n: n, c: c)
            assertClose(dB, dBr, rtol: 1e-5, atol: 1e-5 * Double(n).squareRoot(), "biasBackward \(n)x\(c)")
            var again = dB0
            CPUKernels.biasBackward(dY: dY, dBias: &again, n: n, c: c)
            XCTAssertEqual(again, dB, "deterministic")
        }
    }

    /// The bias gradient against central differences of L = Σ addBias(x, b) ⊙ R in Double.
    func testBiasFiniteDifferences() {
        var rng = TestRNG(4)
        let n = 5, c = 7
        let x = (0..<(n * c)).map { _ in rng.uniform() }, r = (0..<(n * c)).map { _ in rng.uniform() }
        var b = (0..<c).map { _ in rng.uniform() }
        func loss(_ b: [Double]) -> Double {
            var y = x
            ReferenceKernels.addBias(&y, bias: b, n: n, c: c)
            return zip(y, r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var dB = [Double](repeating: 0, count: c)
        ReferenceKernels.biasBackward(dY: r, dBias: &dB, n: n, c: c)
        for j in 0..<c { XCTAssertEqual(dB[j], centralDifference(&b, j, loss), accuracy: 1e-7) }
    }

    func testSumOfSquaresAndClip() {
        var rng = TestRNG(5)
        for n in [0, 1, 17, 1000, 300_007] {
            let x = rng.floats(n)
            let s = CPUKernels.sumOfSquares(x, count: n)
            let r = ReferenceKernels.sumOfSquares(x, count: n)
            XCTAssertEqual(s, r, accuracy: 1e-6 * max(1, r), "sumOfSquares \(n)")
            XCTAssertEqual(s, CPUKernels.sumOfSquares(x, count: n), "deterministic")
        }
        // Clipping: above the limit the buffer is scaled to maxNorm/(norm+1e-6), below untouched.
        let x = rng.floats(100_003)
        let norm = ReferenceKernels.sumOfSquares(x, count: x.count).squareRoot()
        var g = x
        let returned = CPUKernels.clipGradNorm(&g, count: g.count, maxNorm: 1)
        XCTAssertEqual(Double(returned), norm, accuracy: 1e-5 * norm)
        let coef = Float(1) / (returned + 1e-6)
        XCTAssertEqual(g, x.map { $0 * coef })
        XCTAssertEqual(CPUKernels.sumOfSquares(g, count: g.count).squareRoot(), 1, accuracy: 1e-5)
        var h = x
        CPUKernels.clipGradNorm(&h, count: h.count, maxNorm: Float(norm * 2))
        XCTAssertEqual(h, x)
        var hr = toDouble(x)
        let nr = ReferenceKernels.clipGradNorm(&hr, count: hr.count, maxNorm: 1.0)
        XCTAssertEqual(nr, norm, accuracy: 1e-9 * norm)
        assertClose(g, hr, rtol: 1e-6, atol: 1e-9, "clip vs reference")
    }
}
