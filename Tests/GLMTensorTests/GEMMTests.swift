import XCTest
import GLMTensor

final class GEMMTests: XCTestCase {
    /// Naive C = op(A)·op(B) in Double over row-major storage with leading dimensions.
    private func naive(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ lda: Int, _ b: [Float], _ ldb: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = ta ? a[p * lda + i] : a[i * lda + p]
                let bv = tb ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(av) * Double(bv)
            }
            c[i * n + j] = s
        } }
        return c
    }

    private func random(_ n: Int, seed: UInt64) -> [Float] {
        let t = Tensor(uninitialized: [n])
        CounterRNG.fillNormal(t.floats, count: n, mean: 0, std: 1, seed: seed, offset: 0)
        return t.toArray()
    }

    func testSgemmAllTransposesWithLeadingDimensions() {
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 31, 9), (64, 33, 100)] {
            for ta in [false, true] { for tb in [false, true] {
                let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1
                let a = random((ta ? k : m) * lda, seed: 1), b = random((tb ? n : k) * ldb, seed: 2)
                var c = [Float](repeating: 7, count: m * ldc)
                a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                    GEMM.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: ap.baseAddress!, lda: lda,
                               b: bp.baseAddress!, ldb: ldb, c: cp.baseAddress!, ldc: ldc)
                } } }
                let ref = naive(ta, tb, m, n, k, a, lda, b, ldb)
                for i in 0..<m { for j in 0..<n {
                    XCTAssertEqual(Double(c[i * ldc + j]), ref[i * n + j], accuracy: 1e-4 * Double(k).squareRoot() + 1e-5)
                } }
                // Padding columns between rows are untouched.
                if n < ldc { XCTAssertEqual(c[n], 7) }
            } }
        }
    }

    func testBF16MatmulMatchesRoundedInputs() {
        for (m, n, k) in [(5, 7, 3), (33, 17, 65), (128, 96, 64)] {
            for ta in [false, true] { for tb in [false, true] {
                let a = try! Tensor(random(m * k, seed: 3), shape: [m * k]).converted(to: .bf16)
                let b = try! Tensor(random(k * n, seed: 4), shape: [k * n]).converted(to: .bf16)
                let c = Tensor.full([m, n], 0.5)
                BF16Matmul.matmul(transA: ta, transB: tb, m: m, n: n, k: k, a: a.halfBits, lda: ta ? m : k,
                                  b: b.halfBits, ldb: tb ? k : n, c: c.floats, ldc: n, accumulate: true)
                let ref = naive(ta, tb, m, n, k, a.toArray(), ta ? m : k, b.toArray(), tb ? k : n)
                let out = c.toArray()
                for i in 0..<(m * n) { XCTAssertEqual(Double(out[i]), ref[i] + 0.5, accuracy: 1e-4 * Double(k).squareRoot()) }
            } }
        }
    }
}
