import XCTest
import GLMTensor
import GLMTestSupport

final class DropoutTests: XCTestCase {
    /// Random123's published known-answer vectors for Philox4x32-10 (tests/kat_vectors).
    func testPhiloxKnownAnswers() {
        func check(_ c: (UInt32, UInt32, UInt32, UInt32), _ k: (UInt32, UInt32), _ e: [UInt32]) {
            let r = CounterRNG.philox(counter: c, key: k)
            XCTAssertEqual([r.0, r.1, r.2, r.3], e)
        }
        check((0, 0, 0, 0), (0, 0), [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8])
        check((0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF), (0xFFFF_FFFF, 0xFFFF_FFFF),
              [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD])
        check((0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), (0xA409_3822, 0x299F_31D0),
              [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1])
    }

    /// Any split of a stream into (offset, count) pieces gives the same numbers as one call:
    /// the property that makes the result independent of threads and resumable.
    func testStreamsAreSplitIndependent() {
        let n = 100_003
        var whole = [Float](repeating: 0, count: n)
        CounterRNG.fillUniform(&whole, count: n, seed: 42, offset: 5)
        var pieces = [Float](repeating: 0, count: n)
        var at = 0
        for len in [1, 2, 3, 17, 4096, 33_333] + [n] {
            let l = min(len, n - at)
            if l == 0 { break }
            pieces.withUnsafeMutableBufferPointer { CounterRNG.fillUniform($0.baseAddress! + at, count: l, seed: 42, offset: 5 + UInt64(at)) }
            at += l
        }
        XCTAssertEqual(pieces, whole)
        let rng = CounterRNG(seed: 42)
        // The SIMD path (16 blocks side by side) and the scalar per-element path agree everywhere.
        for i in 0..<n { XCTAssertEqual(whole[i], rng.uniform(at: 5 + UInt64(i))) }
        // Every block feeds exactly 4 elements: the (block, word) map is a bijection.
        var seen = Set<UInt64>()
        for k in UInt64(0)..<UInt64(4096) {
            let (b, w) = CounterRNG.location(of: k)
            XCTAssertTrue(seen.insert(b * 4 + UInt64(w)).inserted)
        }
        XCTAssertEqual(seen.max(), 4095)
        XCTAssertTrue(whole.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = whole.reduce(0.0) { $0 + Double($1) } / Double(n)
        XCTAssertEqual(mean, 0.5, accuracy: 0.005)
        // Different seeds give different streams.
        var other = [Float](repeating: 0, count: 64)
        CounterRNG.fillUniform(&other, count: 64, seed: 43, offset: 5)
        XCTAssertNotEqual(Array(whole[0..<64]), other)

        var normal = [Float](repeating: 0, count: n)
        CounterRNG.fillNormal(&normal, count: n, mean: 0, std: 1, seed: 7, offset: 3)
        var normal2 = [Float](repeating: 0, count: n)
        normal2.withUnsafeMutableBufferPointer {
            CounterRNG.fillNormal($0.baseAddress!, count: 10, seed: 7, offset: 3)
            CounterRNG.fillNormal($0.baseAddress! + 10, count: n - 10, seed: 7, offset: 13)
        }
        XCTAssertEqual(normal, normal2)
        for i in stride(from: 0, to: n, by: 97) { XCTAssertEqual(normal[i], CounterRNG(seed: 7).normal(at: 3 + UInt64(i))) }
        let m = normal.reduce(0.0) { $0 + Double($1) } / Double(n)
        let v = normal.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(n)
        XCTAssertEqual(m, 0, accuracy: 0.01)
        XCTAssertEqual(v.squareRoot(), 1, accuracy: 0.01)
        XCTAssertTrue(normal.allSatisfy { $0.isFinite })
        var scaled = [Float](repeating: 0, count: 1000)
        CounterRNG.fillNormal(&scaled, count: 1000, mean: 2, std: 0.02, seed: 7, offset: 3)
        for i in 0..<1000 { XCTAssertEqual(scaled[i], 2 + 0.02 * normal[i]) }
    }

    func testDropoutForwardBackward() {
        var rng = TestRNG(50)
        for (n, p, offset) in [(1, Float(0.1), UInt64(0)), (3, 0.5, 1), (17, 0.1, 2), (1000, 0.3, 3), (200_003, 0.1, 12_345)] {
            let x = rng.floats(n)
            var y = [Float](repeating: 0, count: n), mask = [UInt8](repeating: 9, count: n)
            CPUKernels.dropoutForward(x, &y, mask: &mask, count: n, p: p, seed: 99, offset: offset)
            var yr = [Float](repeating: 0, count: n), maskR = [UInt8](repeating: 9, count: n)
            ReferenceKernels.dropoutForward(x, &yr, mask: &maskR, count: n, p: p, seed: 99, offset: offset)
            XCTAssertEqual(y, yr, "dropout n=\(n)"); XCTAssertEqual(mask, maskR)
            let s = 1 / (1 - p)
            for i in 0..<n {
                XCTAssertTrue(mask[i] <= 1)
                XCTAssertEqual(y[i], mask[i] == 1 ? x[i] * s : 0)
                XCTAssertEqual(mask[i] == 1, CounterRNG(seed: 99).uniform(at: offset + UInt64(i)) >= p)
            }
            if n > 100_000 {
                let kept = Double(mask.reduce(0) { $0 + Int($1) }) / Double(n)
                XCTAssertEqual(kept, Double(1 - p), accuracy: 0.005)
            }
            // Backward from the mask and from (seed, offset) agree and are mask·scale·dY.
            let dY = rng.floats(n)
            var dX1 = [Float](repeating: 0, count: n), dX2 = dX1
            CPUKernels.dropoutBackward(dY: dY, dX: &dX1, mask: mask, count: n, p: p, seed: 99, offset: offset)
            CPUKernels.dropoutBackward(dY: dY, dX: &dX2, mask: nil, count: n, p: p, seed: 99, offset: offset)
            XCTAssertEqual(dX1, dX2)
            for i in 0..<n { XCTAssertEqual(dX1[i], mask[i] == 1 ? dY[i] * s : 0) }
            var dXr = [Float](repeating: 0, count: n)
            ReferenceKernels.dropoutBackward(dY: dY, dX: &dXr, mask: mask, count: n, p: p, seed: 99, offset: offset)
            XCTAssertEqual(dXr, dX1)
        }
    }

    /// Dropout is linear in x for a fixed mask, so its backward is its Jacobian: checked against
    /// central differences of L = Σ dropout(x)·R in Double.
    func testBackwardIsMaskFiniteDifferences() {
        var rng = TestRNG(51)
        let n = 23, p: Float = 0.4
        var x = (0..<n).map { _ in rng.uniform() }
        let r = (0..<n).map { _ in rng.uniform() }
        func loss(_ x: [Double]) -> Double {
            var y = [Double](repeating: 0, count: n)
            ReferenceKernels.dropoutForward(x, &y, mask: nil, count: n, p: p, seed: 5, offset: 11)
            return zip(y, r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var dX = [Double](repeating: 0, count: n)
        ReferenceKernels.dropoutBackward(dY: r, dX: &dX, mask: nil, count: n, p: p, seed: 5, offset: 11)
        for i in 0..<n { XCTAssertEqual(dX[i], centralDifference(&x, i, loss), accuracy: 1e-8) }
        XCTAssertTrue(dX.contains(0) && dX.contains { $0 != 0 })
    }

    func testEdgeProbabilities() {
        let x: [Float] = [1, -2, 3, 4, 5]
        var y = [Float](repeating: 9, count: 5), m = [UInt8](repeating: 9, count: 5)
        CPUKernels.dropoutForward(x, &y, mask: &m, count: 5, p: 0, seed: 1, offset: 0)
        XCTAssertEqual(y, x); XCTAssertEqual(m, [1, 1, 1, 1, 1])
        CPUKernels.dropoutForward(x, &y, mask: &m, count: 5, p: 1, seed: 1, offset: 0)
        XCTAssertEqual(y, [0, 0, 0, 0, 0]); XCTAssertEqual(m, [0, 0, 0, 0, 0])
    }

    /// Data parallelism: a process holding rows 3..<5 of an 8-row batch (``RandomState/rows``)
    /// draws exactly the masks the whole batch draws for those rows — in dropout and in attention
    /// dropout — and every process's stream advances as the whole batch's does. Without the
    /// window the part would draw the whole batch's first rows instead.
    func testARowWindowDrawsWhatTheWholeBatchDrawsForThoseRows() throws {
        var g = TestRNG(5)
        let b = 8, s = 6, h = 8
        let x = try Tensor(g.floats(b * s * h), shape: [b, s, h])
        let qkv = try Tensor(g.floats(b * s * 3 * h), shape: [b, s, 3 * h])
        let seps = (0..<b).map { Int32(1 + $0 % s) }
        let whole = RandomState(seed: 9, offset: 100)
        let yWhole = try Ops.dropout(x, p: 0.3, rng: whole).toArray()
        let aWhole = try Ops.attention(qkv, heads: 2, mask: .separators(seps), dropout: 0.3, rng: whole).toArray()
        for (first, count) in [(0, 3), (3, 2), (5, 3)] {
            let part = RandomState(seed: 9, offset: 100)
            part.rows = RowWindow(first: first, count: count, total: b)
            let y = try Ops.dropout(x.slice(0, first..<(first + count)), p: 0.3, rng: part).toArray()
            let a = try Ops.attention(qkv.slice(0, first..<(first + count)), heads: 2,
                                      mask: .separators(Array(seps[first..<(first + count)])), dropout: 0.3, rng: part).toArray()
            XCTAssertEqual(y, Array(yWhole[(first * s * h)..<((first + count) * s * h)]), "dropout rows \(first)..<\(first + count)")
            XCTAssertEqual(a, Array(aWhole[(first * s * h)..<((first + count) * s * h)]), "attention rows \(first)..<\(first + count)")
            XCTAssertEqual(part.offset, whole.offset, "the stream advances by the whole batch")
        }
        let unwindowed = RandomState(seed: 9, offset: 100)
        let y = try Ops.dropout(x.slice(0, 3..<5), p: 0.3, rng: unwindowed).toArray()
        XCTAssertNotEqual(y, Array(yWhole[(3 * s * h)..<(5 * s * h)]))
        XCTAssertEqual(unwindowed.offset, 100 + UInt64(2 * s * h))
    }
}
