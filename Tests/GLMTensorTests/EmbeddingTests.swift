import XCTest
import GLMTensor
import GLMTestSupport

final class EmbeddingTests: XCTestCase {
    func testForwardBackwardAgainstReference() {
        var rng = TestRNG(70)
        for (n, V, h) in [(1, 1, 1), (3, 5, 17), (17, 7, 31), (100, 50, 100), (600, 300, 1024)] {
            let w = rng.floats(V * h)
            let ids = (0..<n).map { _ in Int32(rng.int(V)) }  // with repeats
            var out = [Float](repeating: 0, count: n * h), outR = out
            CPUKernels.embeddingForward(ids: ids, count: n, weight: w, out: &out, h: h)
            ReferenceKernels.embeddingForward(ids: ids, count: n, weight: w, out: &outR, h: h)
            XCTAssertEqual(out, outR)
            let dOut = rng.floats(n * h), dW0 = rng.floats(V * h)
            var dW = dW0, dWR = dW0
            CPUKernels.embeddingBackward(ids: ids, count: n, dOut: dOut, dWeight: &dW, h: h)
            ReferenceKernels.embeddingBackward(ids: ids, count: n, dOut: dOut, dWeight: &dWR, h: h)
            // Same per-element order of additions as the reference: bitwise equal, deterministic.
            XCTAssertEqual(dW, dWR, "embedding backward n=\(n) h=\(h)")
        }
    }

    func testFiniteDifferences() {
        var rng = TestRNG(71)
        let n = 6, V = 4, h = 5
        let ids: [Int32] = [1, 3, 1, 0, 1, 3]
        var w = (0..<(V * h)).map { _ in rng.uniform() }
        let r = (0..<(n * h)).map { _ in rng.uniform() }
        func loss(_ w: [Double]) -> Double {
            var o = [Double](repeating: 0, count: n * h)
            ReferenceKernels.embeddingForward(ids: ids, count: n, weight: w, out: &o, h: h)
            return zip(o, r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var dW = [Double](repeating: 0, count: V * h)
        ReferenceKernels.embeddingBackward(ids: ids, count: n, dOut: r, dWeight: &dW, h: h)
        for i in 0..<(V * h) { XCTAssertEqual(dW[i], centralDifference(&w, i, loss), accuracy: 1e-8) }
        var dWf = [Float](repeating: 0, count: V * h)
        CPUKernels.embeddingBackward(ids: ids, count: n, dOut: r.map(Float.init), dWeight: &dWf, h: h)
        assertClose(dWf, dW, rtol: 1e-6, atol: 1e-7, "fast embedding backward")
    }
}
