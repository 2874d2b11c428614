import XCTest
import GLMTensor

final class GEMVTests: XCTestCase {
    func testBF16GEMVMatchesReferenceAtOddShapes() throws {
        for (n, k) in [(1, 1), (3, 2), (17, 33), (300, 768), (65, 1001), (129, 3072)] {
            let x = Tensor(uninitialized: [k]), w32 = Tensor(uninitialized: [n, k])
            CounterRNG.fillNormal(x.floats, count: k, seed: 1)
            CounterRNG.fillNormal(w32.floats, count: n * k, seed: 2)
            let w = w32.converted(to: .bf16)
            let got = Tensor(uninitialized: [n]), want = Tensor(uninitialized: [n])
            CPUKernels.gemvBF16(x: x.floats, w: w.halfBits, y: got.floats, n: n, k: k)
            ReferenceKernels.gemvBF16(x: x.floats, w: w.halfBits, y: want.floats, n: n, k: k)
            for (a, b) in zip(got.toArray(), want.toArray()) {
                XCTAssertEqual(a, b, accuracy: 1e-5 * Float(k).squareRoot() * 4, "n \(n) k \(k)")
            }
        }
    }

    func testOneRowBF16LinearUsesTheGEMVAndAgreesWithF32() throws {
        let x = Tensor(uninitialized: [1, 96]), w = Tensor(uninitialized: [40, 96]), b = Tensor(uninitialized: [40])
        CounterRNG.fillNormal(x.floats, count: 96, seed: 3)
        CounterRNG.fillNormal(w.floats, count: 40 * 96, seed: 4)
        CounterRNG.fillNormal(b.floats, count: 40, seed: 5)
        let ref = try Ops.linear(x, weight: w, bias: b).toArray()
        let got = try Autograd.withNoGrad { try Ops.linear(x, weight: w, bias: b, weightBF16: w.converted(to: .bf16)) }.toArray()
        for (a, c) in zip(ref, got) { XCTAssertEqual(a, c, accuracy: 0.1) }   // bf16 weights: 8 bits of mantissa
    }
}
