import XCTest
import GLMTensor
import GLMTestSupport

final class AdamWTests: XCTestCase {
    func testAgainstReferenceOverSteps() {
        var rng = TestRNG(60)
        for (n, wd, gs) in [(1, 0.0, Float(1)), (17, 0.01, 1), (100, 0.1, 0.5), (100_003, 0.01, 0.25)] {
            var p = rng.floats(n), m = [Float](repeating: 0, count: n), v = m
            var pd = toDouble(p), md = [Double](repeating: 0, count: n), vd = md
            for step in 1...5 {
                let g = rng.floats(n)
                CPUKernels.adamW(params: &p, grads: g, m: &m, v: &v, count: n, lr: 1e-3, beta1: 0.9, beta2: 0.95,
                                 eps: 1e-8, weightDecay: wd, step: step, gradScale: gs)
                ReferenceKernels.adamW(params: &pd, grads: toDouble(g), m: &md, v: &vd, count: n, lr: 1e-3,
                                       beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: wd, step: step, gradScale: Double(gs))
            }
            assertClose(p, pd, rtol: 1e-5, atol: 1e-7, "params n=\(n)")
            assertClose(m, md, rtol: 1e-5, atol: 1e-7, "m n=\(n)")
            assertClose(v, vd, rtol: 1e-5, atol: 1e-9, "v n=\(n)")
        }
    }

    /// Step 1 from zero moments: m̂ = g and v̂ = g², so p ← p·(1 − lr·wd) − lr·g/(|g| + eps):
    /// the decay is applied to the old p before the Adam step, as torch.optim.AdamW orders it.
    func testFirstStepClosedForm() {
        let p0: [Float] = [1, -2, 0.5], g: [Float] = [0.3, -0.01, 2]
        var p = p0, m: [Float] = [0, 0, 0], v: [Float] = [0, 0, 0]
        let lr = 0.01, wd = 0.1, eps = 1e-8
        CPUKernels.adamW(params: &p, grads: g, m: &m, v: &v, count: 3, lr: lr, weightDecay: wd, step: 1)
        for i in 0..<3 {
            let expect = Double(p0[i]) * (1 - 0.001) - 0.01 * Double(g[i]) / (abs(Double(g[i])) + eps)
            XCTAssertEqual(Double(p[i]), expect, accuracy: 1e-6)
            XCTAssertEqual(m[i], 0.1 * g[i], accuracy: 1e-7)
            XCTAssertEqual(v[i], 0.001 * g[i] * g[i], accuracy: 1e-9)
        }
    }
}
