import XCTest
import GLMTensor

final class GEMVTests: XCTestCase {
    let shapes = [(1, 1, 1), (1, 3, 2), (2, 17, 33), (5, 300, 768), (4, 65, 1001), (9, 129, 3072), (16, 7, 16)]

    func testF32GEMVMatchesReferenceAtOddShapes() throws {
        for (m, n, k) in shapes {
            let x = Tensor(uninitialized: [m, k]), w = Tensor(uninitialized: [n, k])
            CounterRNG.fillNormal(x.floats, count: m * k, seed: 1)
            CounterRNG.fillNormal(w.floats, count: n * k, seed: 2)
            let got = Tensor(uninitialized: [m, n])
            CPUKernels.gemv(x: x.floats, w: w.floats, y: got.floats, m: m, n: n, k: k)
            let xd = x.toArray().map(Double.init), wd = w.toArray().map(Double.init)
            var want = [Double](repeating: 0, count: m * n)
            ReferenceKernels.gemv(x: xd, w: wd, y: &want, m: m, n: n, k: k)
            for (a, b) in zip(got.toArray(), want) {
                XCTAssertEqual(Double(a), b, accuracy: 1e-5 * Double(k).squareRoot() * 4, "m \(m) n \(n) k \(k)")
            }
        }
    }

    func testBF16GEMVMatchesReferenceAtOddShapes() throws {
        for (m, n, k) in shapes {
            let x = Tensor(uninitialized: [m, k]), w32 = Tensor(uninitialized: [n, k])
            CounterRNG.fillNormal(x.floats, count: m * k, seed: 1)
            CounterRNG.fillNormal(w32.floats, count: n * k, seed: 2)
            let w = w32.converted(to: .bf16)
            let got = Tensor(uninitialized: [m, n]), want = Tensor(uninitialized: [m, n])
            CPUKernels.gemvBF16(x: x.floats, w: w.halfBits, y: got.floats, m: m, n: n, k: k)
            ReferenceKernels.gemvBF16(x: x.floats, w: w.halfBits, y: want.floats, m: m, n: n, k: k)
            for (a, b) in zip(got.toArray(), want.toArray()) {
                XCTAssertEqual(a, b, accuracy: 1e-5 * Float(k).squareRoot() * 4, "m \(m) n \(n) k \(k)")
            }
        }
    }

    /// The reason the kernels exist: a row's result is the same bits whatever else is in the batch.
    func testEachRowIsIndependentOfTheBatch() throws {
        for (n, k) in [(67, 768), (130, 1001), (5, 15)] {
            let x = Tensor(uninitialized: [16, k]), w = Tensor(uninitialized: [n, k])
            CounterRNG.fillNormal(x.floats, count: 16 * k, seed: 5)
            CounterRNG.fillNormal(w.floats, count: n * k, seed: 6)
            let w16 = w.converted(to: .bf16)
            let all = Tensor(uninitialized: [16, n]), all16 = Tensor(uninitialized: [16, n])
            CPUKernels.gemv(x: x.floats, w: w.floats, y: all.floats, m: 16, n: n, k: k)
            CPUKernels.gemvBF16(x: x.floats, w: w16.halfBits, y: all16.floats, m: 16, n: n, k: k)
            for (start, m) in [(0, 1), (3, 1), (5, 2), (6, 3), (8, 5), (9, 7)] {
                let one = Tensor(uninitialized: [m, n]), one16 = Tensor(uninitialized: [m, n])
                CPUKernels.gemv(x: x.floats + start * k, w: w.floats, y: one.floats, m: m, n: n, k: k)
                CPUKernels.gemvBF16(x: x.floats + start * k, w: w16.halfBits, y: one16.floats, m: m, n: n, k: k)
                XCTAssertEqual(one.toArray(), Array(all.toArray()[(start * n)..<((start + m) * n)]), "f32 rows \(start)..<\(start + m)")
                XCTAssertEqual(one16.toArray(), Array(all16.toArray()[(start * n)..<((start + m) * n)]), "bf16 rows \(start)..<\(start + m)")
            }
        }
    }

    func testRowwiseLinearAgreesWithTheGEMMPath() throws {
        let x = Tensor(uninitialized: [3, 96]), w = Tensor(uninitialized: [40, 96]), b = Tensor(uninitialized: [40])
        CounterRNG.fillNormal(x.floats, count: 3 * 96, seed: 3)
        CounterRNG.fillNormal(w.floats, count: 40 * 96, seed: 4)
        CounterRNG.fillNormal(b.floats, count: 40, seed: 5)
        let ref = try Ops.linear(x, weight: w, bias: b).toArray()
        let got = try Autograd.withNoGrad { try Ops.linear(x, weight: w, bias: b, rowwise: true) }.toArray()
        for (a, c) in zip(ref, got) { XCTAssertEqual(a, c, accuracy: 1e-4) }
        let got16 = try Autograd.withNoGrad { try Ops.linear(x, weight: w, bias: b, weightBF16: w.converted(to: .bf16), rowwise: true) }.toArray()
        for (a, c) in zip(ref, got16) { XCTAssertEqual(a, c, accuracy: 0.1) }   // bf16 weights: 8 bits of mantissa
    }
}
