import XCTest
import GLMTensor
import GLMTestSupport

final class LayerNormTests: XCTestCase {
    let shapes = [(1, 1), (1, 3), (3, 17), (5, 31), (7, 100), (33, 512), (300, 257), (2048, 64)]

    func testForwardAndBackwardAgainstReference() {
        var rng = TestRNG(20)
        for (rows, cols) in shapes {
            // An offset mean and a spread, so the two-pass variance matters.
            let x = (0..<(rows * cols)).map { _ in Float(3 + 2 * rng.normal()) }
            let w = rng.floats(cols, 0.5, 1.5), b = rng.floats(cols)
            var y = [Float](repeating: 0, count: rows * cols), mean = [Float](repeating: 0, count: rows), rstd = mean
            CPUKernels.layerNormForward(x, weight: w, bias: b, &y, mean: &mean, rstd: &rstd, rows: rows, cols: cols)
            var yd = [Double](repeating: 0, count: rows * cols), md = [Double](repeating: 0, count: rows), rd = md
            ReferenceKernels.layerNormForward(toDouble(x), weight: toDouble(w), bias: toDouble(b), &yd, mean: &md, rstd: &rd,
                                              rows: rows, cols: cols)
            assertClose(y, yd, rtol: 1e-5, atol: 1e-5, "ln y \(rows)x\(cols)")
            assertClose(mean, md, rtol: 1e-6, atol: 1e-6, "ln mean")
            assertClose(rstd, rd, rtol: 1e-5, "ln rstd")

            let dY = rng.floats(rows * cols)
            let dX0 = rng.floats(rows * cols), dW0 = rng.floats(cols), dB0 = rng.floats(cols)
            var dX = dX0, dW = dW0, dB = dB0
            CPUKernels.layerNormBackward(dY: dY, x, weight: w, mean: mean, rstd: rstd, dX: &dX, dWeight: &dW, dBias: &dB,
                                         rows: rows, cols: cols)
            var dXd = toDouble(dX0), dWd = toDouble(dW0), dBd = toDouble(dB0)
            ReferenceKernels.layerNormBackward(dY: toDouble(dY), toDouble(x), weight: toDouble(w), mean: md, rstd: rd,
                                               dX: &dXd, dWeight: &dWd, dBias: &dBd, rows: rows, cols: cols)
            let scale = Double(rows).squareRoot()
            assertClose(dX, dXd, rtol: 1e-4, atol: 1e-5, "ln dX \(rows)x\(cols)")
            assertClose(dW, dWd, rtol: 1e-4, atol: 1e-5 * scale, "ln dW \(rows)x\(cols)")
            assertClose(dB, dBd, rtol: 1e-4, atol: 1e-5 * scale, "ln dB \(rows)x\(cols)")

            // Deterministic: the same call again gives the same bits.
            var dX2 = dX0, dW2 = dW0, dB2 = dB0
            CPUKernels.layerNormBackward(dY: dY, x, weight: w, mean: mean, rstd: rstd, dX: &dX2, dWeight: &dW2, dBias: &dB2,
                                         rows: rows, cols: cols)
            XCTAssertEqual(dX2, dX); XCTAssertEqual(dW2, dW); XCTAssertEqual(dB2, dB)
        }
    }

    /// dX, dWeight, dBias of the reference backward against central differences of
    /// L = Σ layerNorm(x)·R in Double.
    func testFiniteDifferences() {
        var rng = TestRNG(21)
        for (rows, cols) in [(2, 5), (3, 17)] {
            var x = (0..<(rows * cols)).map { _ in rng.normal() + 0.5 }
            var w = (0..<cols).map { _ in rng.uniform(0.5, 1.5) }
            var b = (0..<cols).map { _ in rng.uniform() }
            let r = (0..<(rows * cols)).map { _ in rng.uniform() }
            func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
                var y = [Double](repeating: 0, count: rows * cols), m = [Double](repeating: 0, count: rows), s = m
                ReferenceKernels.layerNormForward(x, weight: w, bias: b, &y, mean: &m, rstd: &s, rows: rows, cols: cols)
                return zip(y, r).reduce(0) { $0 + $1.0 * $1.1 }
            }
            var y = [Double](repeating: 0, count: rows * cols), m = [Double](repeating: 0, count: rows), s = m
            ReferenceKernels.layerNormForward(x, weight: w, bias: b, &y, mean: &m, rstd: &s, rows: rows, cols: cols)
            var dX = [Double](repeating: 0, count: rows * cols), dW = [Double](repeating: 0, count: cols), dB = dW
            ReferenceKernels.layerNormBackward(dY: r, x, weight: w, mean: m, rstd: s, dX: &dX, dWeight: &dW, dBias: &dB,
                                               rows: rows, cols: cols)
            for i in 0..<(rows * cols) {
                XCTAssertEqual(dX[i], centralDifference(&x, i) { loss($0, w, b) }, accuracy: 1e-7, "dX[\(i)]")
            }
            for j in 0..<cols {
                XCTAssertEqual(dW[j], centralDifference(&w, j) { loss(x, $0, b) }, accuracy: 1e-7, "dW[\(j)]")
                XCTAssertEqual(dB[j], centralDifference(&b, j) { loss(x, w, $0) }, accuracy: 1e-7, "dB[\(j)]")
            }
        }
    }

    func testInPlaceForward() {
        var rng = TestRNG(22)
        let rows = 9, cols = 33
        let x = rng.floats(rows * cols), w = rng.floats(cols), b = rng.floats(cols)
        var y = [Float](repeating: 0, count: rows * cols), m = [Float](repeating: 0, count: rows), s = m
        CPUKernels.layerNormForward(x, weight: w, bias: b, &y, mean: &m, rstd: &s, rows: rows, cols: cols)
        var z = x
        z.withUnsafeMutableBufferPointer {
            CPUKernels.layerNormForward($0.baseAddress!, weight: w, bias: b, $0.baseAddress!, mean: &m, rstd: &s, rows: rows, cols: cols)
        }
        XCTAssertEqual(z, y)
    }
}

final class ResidualLayerNormTests: XCTestCase {
    func testFusedEqualsUnfused() {
        var rng = TestRNG(23)
        for (rows, cols) in [(1, 1), (3, 17), (5, 100), (300, 257)] {
            let x0 = rng.floats(rows * cols), d = rng.floats(rows * cols)
            let w = rng.floats(cols, 0.5, 1.5), b = rng.floats(cols)
            var x = x0, y = [Float](repeating: 0, count: rows * cols), m = [Float](repeating: 0, count: rows), s = m
            CPUKernels.residualLayerNormForward(&x, delta: d, weight: w, bias: b, &y, mean: &m, rstd: &s, rows: rows, cols: cols)
            var xr = x0
            CPUKernels.addInPlace(&xr, d, count: rows * cols)
            var yr = [Float](repeating: 0, count: rows * cols), mr = [Float](repeating: 0, count: rows), sr = mr
            CPUKernels.layerNormForward(xr, weight: w, bias: b, &yr, mean: &mr, rstd: &sr, rows: rows, cols: cols)
            XCTAssertEqual(x, xr); XCTAssertEqual(y, yr); XCTAssertEqual(m, mr); XCTAssertEqual(s, sr)
        }
    }
}
