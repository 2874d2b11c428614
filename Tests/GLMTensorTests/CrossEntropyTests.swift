import XCTest
import GLMTensor
import GLMTestSupport

final class CrossEntropyTests: XCTestCase {
    func run(n: Int, V: Int, seed: UInt64, maskEvery: Int = 3, eps: Float = 0) {
        var rng = TestRNG(seed)
        let logits = rng.normals(n * V, std: 3)
        var targets = (0..<n).map { _ in Int32(rng.int(V)) }
        let mask = (0..<n).map { Float($0 % maskEvery == 1 ? 0 : 1) }
        // Masked-out rows may carry any target (padding): out of range here on purpose.
        for i in 0..<n where mask[i] == 0 { targets[i] = i % 2 == 0 ? -100 : Int32(V + 7) }
        let gradScale: Float = 1 / max(1, mask.reduce(0, +))
        var losses = [Float](repeating: -1, count: n), d = [Float](repeating: .nan, count: n * V)
        let (ls, ms) = CPUKernels.crossEntropyForwardBackward(logits: logits, targets: targets, lossMask: mask, n: n, V: V,
                                                              losses: &losses, dLogits: &d, gradScale: gradScale, labelSmoothing: eps)
        var lr = [Double](repeating: 0, count: n), dr = [Double](repeating: 0, count: n * V)
        let (rls, rms) = ReferenceKernels.crossEntropyForwardBackward(logits: toDouble(logits), targets: targets, lossMask: toDouble(mask),
                                                                      n: n, V: V, losses: &lr, dLogits: &dr, gradScale: Double(gradScale),
                                                                      labelSmoothing: Double(eps))
        assertClose(losses, lr, rtol: 1e-5, atol: 1e-5, "CE losses n=\(n) V=\(V)")
        XCTAssertEqual(ls, rls, accuracy: 1e-5 * max(1, abs(rls)))
        XCTAssertEqual(ms, rms)
        assertClose(d, dr, rtol: 1e-4, atol: 1e-9, "CE dLogits n=\(n) V=\(V)")
        for i in 0..<n where mask[i] == 0 {
            XCTAssertEqual(losses[i], 0)
            XCTAssertTrue(d[(i * V)..<((i + 1) * V)].allSatisfy { $0 == 0 })
        }
        // Loss only: same losses.
        var l2 = [Float](repeating: -1, count: n)
        let (ls2, _) = CPUKernels.crossEntropyForwardBackward(logits: logits, targets: targets, lossMask: mask, n: n, V: V,
                                                              losses: &l2, dLogits: nil, labelSmoothing: eps)
        assertClose(l2, losses, rtol: 1e-6, atol: 1e-6, "loss only")
        XCTAssertEqual(ls2, ls, accuracy: 1e-5 * max(1, abs(ls)))
        // In place: the gradient overwrites the logits.
        var inPlace = logits
        var l3 = [Float](repeating: -1, count: n)
        inPlace.withUnsafeMutableBufferPointer { buf in
            _ = CPUKernels.crossEntropyForwardBackward(logits: buf.baseAddress!, targets: targets, lossMask: mask, n: n, V: V,
                                                       losses: &l3, dLogits: buf.baseAddress!, gradScale: gradScale, labelSmoothing: eps)
        }
        XCTAssertEqual(inPlace, d); XCTAssertEqual(l3, losses)
        // Deterministic.
        var d4 = [Float](repeating: 0, count: n * V), l4 = [Float](repeating: 0, count: n)
        let (ls4, _) = CPUKernels.crossEntropyForwardBackward(logits: logits, targets: targets, lossMask: mask, n: n, V: V,
                                                              losses: &l4, dLogits: &d4, gradScale: gradScale, labelSmoothing: eps)
        XCTAssertEqual(d4, d); XCTAssertEqual(l4, losses); XCTAssertEqual(ls4, ls)
    }

    func testShapes() {
        run(n: 1, V: 1, seed: 40, maskEvery: 5)
        run(n: 3, V: 17, seed: 41)
        run(n: 5, V: 31, seed: 42)
        run(n: 64, V: 100, seed: 43)
        run(n: 33, V: 1000, seed: 44)
    }

    /// Label smoothing (the official seq2seq loss) through the same checks, small and GLM-sized vocabularies.
    func testLabelSmoothingShapes() {
        run(n: 1, V: 1, seed: 50, maskEvery: 5, eps: 0.1)
        run(n: 3, V: 17, seed: 51, eps: 0.1)
        run(n: 64, V: 100, seed: 52, eps: 0.3)
        run(n: 7, V: 30592, seed: 53, eps: 0.1)
        run(n: 3, V: 50304, seed: 54, maskEvery: 2, eps: 0.1)
    }

    /// The smoothed loss written out in Double: (1 − ε)·(lse − x_t) + ε·mean_v(lse − x_v); its
    /// gradient against central differences; uniform logits give log V for any ε.
    func testLabelSmoothingValuesAndFiniteDifferences() {
        var rng = TestRNG(55)
        let n = 4, V = 9, eps = 0.1
        var logits = (0..<(n * V)).map { _ in 2 * rng.normal() }
        let targets: [Int32] = [3, 0, 8, 5], mask: [Double] = [1, 0, 1, 0.5]
        let gs = 0.7
        var l = [Double](repeating: 0, count: n), d = [Double](repeating: 0, count: n * V)
        ReferenceKernels.crossEntropyForwardBackward(logits: logits, targets: targets, lossMask: mask, n: n, V: V,
                                                     losses: &l, dLogits: &d, gradScale: gs, labelSmoothing: eps)
        for i in 0..<n where mask[i] != 0 {
            let row = Array(logits[(i * V)..<((i + 1) * V)])
            let lse = log(row.map { exp($0) }.reduce(0, +))
            let want = (1 - eps) * (lse - row[Int(targets[i])]) + eps * row.map { lse - $0 }.reduce(0, +) / Double(V)
            XCTAssertEqual(l[i], want, accuracy: 1e-12, "row \(i)")
        }
        func loss(_ x: [Double]) -> Double {
            var l = [Double](repeating: 0, count: n)
            return ReferenceKernels.crossEntropyForwardBackward(logits: x, targets: targets, lossMask: mask, n: n, V: V,
                                                                losses: &l, dLogits: nil, labelSmoothing: eps).lossSum * gs
        }
        for i in 0..<(n * V) { XCTAssertEqual(d[i], centralDifference(&logits, i, loss), accuracy: 1e-8, "d[\(i)]") }
        var lu = [Float](repeating: 0, count: 1)
        CPUKernels.crossEntropyForwardBackward(logits: [Float](repeating: 0.3, count: 30592), targets: [17], lossMask: [1],
                                               n: 1, V: 30592, losses: &lu, dLogits: nil, labelSmoothing: 0.1)
        XCTAssertEqual(Double(lu[0]), log(30592.0), accuracy: 1e-5)
    }

    func testLargeVocabulary() {
        run(n: 7, V: 30592, seed: 45)
        run(n: 3, V: 50304, seed: 46, maskEvery: 2)
    }

    func testRowStride() {
        var rng = TestRNG(47)
        let n = 5, V = 37, ld = 48
        let wide = rng.normals(n * ld)
        let packed = (0..<n).flatMap { i in wide[(i * ld)..<(i * ld + V)] }
        let targets = (0..<n).map { _ in Int32(rng.int(V)) }
        let mask = [Float](repeating: 1, count: n)
        var l1 = [Float](repeating: 0, count: n), l2 = l1
        var d1 = [Float](repeating: 0, count: n * V), d2 = [Float](repeating: 7, count: n * ld)
        CPUKernels.crossEntropyForwardBackward(logits: packed, targets: targets, lossMask: mask, n: n, V: V, losses: &l1, dLogits: &d1)
        CPUKernels.crossEntropyForwardBackward(logits: wide, ldLogits: ld, targets: targets, lossMask: mask, n: n, V: V,
                                               losses: &l2, dLogits: &d2)
        XCTAssertEqual(l1, l2)
        for i in 0..<n {
            XCTAssertEqual(Array(d2[(i * ld)..<(i * ld + V)]), Array(d1[(i * V)..<((i + 1) * V)]))
            XCTAssertTrue(d2[(i * ld + V)..<((i + 1) * ld)].allSatisfy { $0 == 7 }, "padding columns untouched")
        }
        // Strided logits into a packed gradient.
        var l3 = [Float](repeating: 0, count: n), d3 = [Float](repeating: 0, count: n * V)
        CPUKernels.crossEntropyForwardBackward(logits: wide, ldLogits: ld, targets: targets, lossMask: mask, n: n, V: V,
                                               losses: &l3, dLogits: &d3, ldDLogits: V)
        XCTAssertEqual(l3, l1); XCTAssertEqual(d3, d1)
    }

    /// dLogits of the reference against central differences of Σ CE·mask·gradScale in Double.
    func testFiniteDifferences() {
        var rng = TestRNG(48)
        let n = 4, V = 9
        var logits = (0..<(n * V)).map { _ in 2 * rng.normal() }
        let targets: [Int32] = [3, 0, 8, 5], mask: [Double] = [1, 0, 1, 0.5]
        let gs = 0.7
        func loss(_ x: [Double]) -> Double {
            var l = [Double](repeating: 0, count: n)
            return ReferenceKernels.crossEntropyForwardBackward(logits: x, targets: targets, lossMask: mask, n: n, V: V,
                                                                losses: &l, dLogits: nil).lossSum * gs
        }
        var l = [Double](repeating: 0, count: n), d = [Double](repeating: 0, count: n * V)
        ReferenceKernels.crossEntropyForwardBackward(logits: logits, targets: targets, lossMask: mask, n: n, V: V,
                                                     losses: &l, dLogits: &d, gradScale: gs)
        for i in 0..<(n * V) { XCTAssertEqual(d[i], centralDifference(&logits, i, loss), accuracy: 1e-8, "d[\(i)]") }
        // Known value: uniform logits give CE = log V.
        var lu = [Float](repeating: 0, count: 1)
        CPUKernels.crossEntropyForwardBackward(logits: [Float](repeating: 0.3, count: 50304), targets: [17], lossMask: [1],
                                               n: 1, V: 50304, losses: &lu, dLogits: nil)
        XCTAssertEqual(Double(lu[0]), log(50304.0), accuracy: 1e-5)
    }

    /// Data parallelism: each part of a batch divides by the WHOLE batch's mask sum
    /// (`normalizer`), so the parts' losses add up to the whole batch's loss and their logit
    /// gradients are, row for row, exactly the whole batch's.
    func testPartsWithTheWholeBatchNormalizerAddUpToTheWhole() throws {
        var rng = TestRNG(61)
        let n = 10, V = 37
        let logits = rng.normals(n * V, std: 2)
        let targets = (0..<n).map { _ in Int32(rng.int(V)) }
        let mask: [Float] = [1, 1, 0, 1, 0, 0, 1, 1, 1, 0]
        func lossAndGrad(_ rows: Range<Int>, normalizer: Double?) throws -> (Float, [Float]) {
            let (value, grad) = Autograd.leaf(try Tensor(Array(logits[(rows.lowerBound * V)..<(rows.upperBound * V)]), shape: [rows.count, V]), name: "logits")
            let loss = try Ops.crossEntropy(value, targets: Tensor(int32: Array(targets[rows]), shape: [rows.count]),
                                            lossMask: Tensor(Array(mask[rows]), shape: [rows.count]), normalizer: normalizer)
            try loss.backward()
            return (loss.item, grad.toArray())
        }
        let (whole, dWhole) = try lossAndGrad(0..<n, normalizer: nil)
        let total = Double(mask.reduce(0, +))
        let (a, da) = try lossAndGrad(0..<4, normalizer: total)
        let (b, db) = try lossAndGrad(4..<n, normalizer: total)
        XCTAssertEqual(Double(a + b), Double(whole), accuracy: 1e-6 * Double(whole))
        XCTAssertEqual(da + db, dWhole)
        // Without it, a part is normalised by its own mask (the single-process loss).
        let (own, _) = try lossAndGrad(0..<4, normalizer: nil)
        XCTAssertEqual(Double(own), Double(a) * total / 3, accuracy: 1e-5)
        XCTAssertThrowsError(try lossAndGrad(0..<4, normalizer: 0))
    }
}

