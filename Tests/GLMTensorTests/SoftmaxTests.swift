import XCTest
import GLMTensor
import GLMTestSupport

final class SoftmaxTests: XCTestCase {
    /// (batch, heads, sq, sk, seps, scale): m = sk − sq memory columns; seps 0 (causal), = sq
    /// (bidirectional), past sq, and in between.
    let cases: [(Int, Int, Int, Int, [Int32], Float)] = [
        (1, 1, 1, 1, [0], 1),
        (2, 3, 5, 5, [0, 5], 1),
        (2, 2, 17, 17, [3, 17], 0.25),
        (2, 2, 7, 10, [2, 0], 1),
        (1, 4, 33, 33, [40], 0.125),
        (3, 2, 31, 40, [1, 16, 31], 0.5),
        (4, 8, 64, 64, [10, 0, 64, 33], 0.125),
    ]

    func testSepForwardAgainstReference() {
        var rng = TestRNG(30)
        for (batch, heads, sq, sk, sep, scale) in cases {
            let n = batch * heads * sq * sk
            let s = rng.normals(n, std: 3)
            var p = s
            CPUKernels.softmaxSepForward(&p, batch: batch, heads: heads, sq: sq, sk: sk, sep: sep, scale: scale)
            var pd = toDouble(s)
            ReferenceKernels.softmaxSepForward(&pd, batch: batch, heads: heads, sq: sq, sk: sk, sep: sep, scale: Double(scale))
            assertClose(p, pd, rtol: 1e-5, atol: 1e-7, "sep \(batch),\(heads),\(sq),\(sk)")
            // Masked positions are exactly 0, rows sum to 1.
            let m = sk - sq
            for b in 0..<batch {
                for h in 0..<heads {
                    for i in 0..<sq {
                        let row = ((b * heads + h) * sq + i) * sk
                        var sum = 0.0
                        for c in 0..<sk {
                            let visible = c < m || (c - m) < Int(sep[b]) || (c - m) <= i
                            if !visible { XCTAssertEqual(p[row + c], 0) }
                            sum += Double(p[row + c])
                        }
                        XCTAssertEqual(sum, 1, accuracy: 1e-5)
                    }
                }
            }
            // The explicit-mask form with the same mask gives the same bits.
            var mask = [Float](repeating: 0, count: batch * sq * sk)
            for b in 0..<batch { for i in 0..<sq { for c in 0..<sk {
                mask[(b * sq + i) * sk + c] = (c < m || (c - m) < Int(sep[b]) || (c - m) <= i) ? 1 : 0
            } } }
            var q = s
            CPUKernels.softmaxMaskedForward(&q, mask: mask, batch: batch, heads: heads, sq: sq, sk: sk, scale: scale)
            XCTAssertEqual(q, p, "masked == sep \(batch),\(heads),\(sq),\(sk)")
        }
    }

    func testMaskedForwardRandomMask() {
        var rng = TestRNG(31)
        for (batch, heads, sq, sk) in [(1, 1, 3, 3), (2, 3, 17, 20), (3, 4, 31, 31)] {
            let s = rng.normals(batch * heads * sq * sk, std: 2)
            let mask = (0..<(batch * sq * sk)).map { _ in Float(rng.int(3) == 0 ? 0 : 1) }
            var p = s
            CPUKernels.softmaxMaskedForward(&p, mask: mask, batch: batch, heads: heads, sq: sq, sk: sk, scale: 0.7)
            var pd = toDouble(s)
            ReferenceKernels.softmaxMaskedForward(&pd, mask: toDouble(mask), batch: batch, heads: heads, sq: sq, sk: sk, scale: 0.7)
            assertClose(p, pd, rtol: 1e-5, atol: 1e-7, "masked \(batch),\(heads),\(sq),\(sk)")
        }
        // A fully masked row stays finite: every logit is −65504, so the row is uniform.
        var p: [Float] = [1, 2, 3, 4, 5]
        CPUKernels.softmaxMaskedForward(&p, mask: [0, 0, 0, 0, 0], batch: 1, heads: 1, sq: 1, sk: 5)
        for v in p { XCTAssertEqual(v, 0.2, accuracy: 1e-7) }
        // A broadcast [1, 1, sq, sk] mask through maskBatchStride 0.
        var rng2 = TestRNG(32)
        let s = rng2.normals(2 * 2 * 3 * 4)
        let mask = (0..<12).map { Float($0 % 3 == 0 ? 0 : 1) }
        var a = s, b = s
        CPUKernels.softmaxMaskedForward(&a, mask: mask, batch: 2, heads: 2, sq: 3, sk: 4, maskBatchStride: 0)
        CPUKernels.softmaxMaskedForward(&b, mask: mask + mask, batch: 2, heads: 2, sq: 3, sk: 4)
        XCTAssertEqual(a, b)
    }

    func testBackwardAgainstReference() {
        var rng = TestRNG(33)
        for (rows, cols) in [(1, 1), (3, 17), (5, 31), (64, 100), (512, 257)] {
            let s = rng.normals(rows * cols, std: 2)
            var p = s
            CPUKernels.softmaxMaskedForward(&p, mask: [Float](repeating: 1, count: rows * cols), batch: 1, heads: 1, sq: rows, sk: cols)
            let dP = rng.floats(rows * cols)
            var dS = [Float](repeating: 0, count: rows * cols)
            CPUKernels.softmaxBackward(probs: p, dProbs: dP, dScores: &dS, rows: rows, cols: cols, scale: 0.5)
            var dSd = [Double](repeating: 0, count: rows * cols)
            ReferenceKernels.softmaxBackward(probs: toDouble(p), dProbs: toDouble(dP), dScores: &dSd, rows: rows, cols: cols, scale: 0.5)
            assertClose(dS, dSd, rtol: 1e-4, atol: 1e-7, "softmax backward \(rows)x\(cols)")
            var inPlace = dP
            inPlace.withUnsafeMutableBufferPointer {
                CPUKernels.softmaxBackward(probs: p, dProbs: $0.baseAddress!, dScores: $0.baseAddress!, rows: rows, cols: cols, scale: 0.5)
            }
            XCTAssertEqual(inPlace, dS)
        }
    }

    /// Gradient of L = Σ softmaxSep(scale·S)·R with respect to the raw scores S, through the
    /// reference backward (dScores = scale·P⊙(R − ΣR⊙P)), against central differences in Double,
    /// memory columns and masked columns (whose gradient is 0) included.
    func testSepFiniteDifferences() {
        var rng = TestRNG(34)
        let batch = 2, heads = 2, sq = 4, sk = 6, scale = 0.5
        let sep: [Int32] = [1, 3]
        var s = (0..<(batch * heads * sq * sk)).map { _ in rng.normal() }
        let r = (0..<s.count).map { _ in rng.uniform() }
        func loss(_ s: [Double]) -> Double {
            var p = s
            ReferenceKernels.softmaxSepForward(&p, batch: batch, heads: heads, sq: sq, sk: sk, sep: sep, scale: scale)
            return zip(p, r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var p = s
        ReferenceKernels.softmaxSepForward(&p, batch: batch, heads: heads, sq: sq, sk: sk, sep: sep, scale: scale)
        var dS = [Double](repeating: 0, count: s.count)
        ReferenceKernels.softmaxBackward(probs: p, dProbs: r, dScores: &dS, rows: batch * heads * sq, cols: sk, scale: scale)
        for i in 0..<s.count { XCTAssertEqual(dS[i], centralDifference(&s, i, loss), accuracy: 1e-8, "dS[\(i)]") }
        // And the fast kernels on the same problem.
        var pf = s.map(Float.init)
        CPUKernels.softmaxSepForward(&pf, batch: batch, heads: heads, sq: sq, sk: sk, sep: sep, scale: Float(scale))
        var dSf = [Float](repeating: 0, count: s.count)
        CPUKernels.softmaxBackward(probs: pf, dProbs: r.map(Float.init), dScores: &dSf, rows: batch * heads * sq, cols: sk, scale: Float(scale))
        assertClose(dSf, dS, rtol: 1e-4, atol: 1e-6, "fast sep backward")
    }
}
