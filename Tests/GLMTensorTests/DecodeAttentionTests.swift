import XCTest
import GLMTensor

final class DecodeAttentionTests: XCTestCase {
    /// The decoding kernel against its plain twin in Double, with sequences of different lengths
    /// in scattered cache rows and head widths with and without a SIMD tail.
    func testDecodeAttentionMatchesReference() throws {
        for (heads, d) in [(2, 16), (4, 8), (3, 20), (12, 64)] {
            let h = heads * d, capacity = 37, cacheRows = 5
            let rows = [3, 0, 4], totals = [1, 37, 19], b = rows.count
            let q = Tensor(uninitialized: [b, 3 * h])
            let k = Tensor(uninitialized: [cacheRows, capacity, h]), v = Tensor(uninitialized: [cacheRows, capacity, h])
            q.fillNormal(std: 1, seed: 1, offset: 0)
            k.fillNormal(std: 1, seed: 2, offset: 0)
            v.fillNormal(std: 1, seed: 3, offset: 0)
            let scale = 1 / Float(d).squareRoot()
            let got = Tensor(uninitialized: [b, h])
            CPUKernels.attentionDecode(q: q.floats, ldq: 3 * h, keys: k.floats, values: v.floats, rowStride: capacity * h,
                                       rows: rows, totals: totals, b: b, heads: heads, d: d, h: h, scale: scale, out: got.floats)
            var want = [Double](repeating: 0, count: b * h)
            ReferenceKernels.attentionDecode(q: q.toArray().map(Double.init), ldq: 3 * h, keys: k.toArray().map(Double.init),
                                             values: v.toArray().map(Double.init), rowStride: capacity * h, rows: rows,
                                             totals: totals, b: b, heads: heads, d: d, h: h, scale: Double(scale), out: &want)
            for (a, w) in zip(got.toArray(), want) { XCTAssertEqual(Double(a), w, accuracy: 1e-5, "heads \(heads) d \(d)") }
        }
    }

    /// Through the op: one new token per sequence against a cache equals the full masked
    /// attention over the same keys (the training op with an explicit mask), row by row.
    func testCachedAttentionOpEqualsTheTrainingOp() throws {
        let heads = 2, d = 8, h = heads * d, s = 6
        let qkv = Tensor(uninitialized: [1, s, 3 * h])
        qkv.fillNormal(std: 1, seed: 9, offset: 0)
        // Full attention over s tokens: the first 4 bidirectional (sep 4), the rest causal.
        let full = try Autograd.withNoGrad { try Ops.attention(qkv, heads: heads, mask: .separators([4])) }.toArray()
        let cache = KVCache(rows: 2, capacity: 8, layers: 1, hidden: h)
        let ctx = try qkv.slice(1, 0..<4).contiguous()
        let first = try Ops.attention(ctx, heads: heads, separators: [4], cache: cache, layer: 0, rows: [1])
        cache.advance(rows: [1], by: [4])
        for (i, a) in first.toArray().enumerated() { XCTAssertEqual(a, full[i], accuracy: 1e-5) }
        for t in 4..<s {
            let one = try qkv.slice(1, t..<(t + 1)).contiguous()
            let out = try Ops.attention(one, heads: heads, separators: [0], cache: cache, layer: 0, rows: [1]).toArray()
            cache.advance(rows: [1], by: [1])
            for c in 0..<h { XCTAssertEqual(out[c], full[t * h + c], accuracy: 1e-5, "token \(t)") }
        }
        XCTAssertEqual(cache.lengths, [0, s])
        // Misuse is refused with the reason.
        XCTAssertThrowsError(try Ops.attention(qkv, heads: heads, separators: [0], cache: cache, layer: 0, rows: [1])) {
            XCTAssertTrue("\($0)".contains("do not fit"), "\($0)")
        }
        XCTAssertThrowsError(try Ops.attention(ctx, heads: heads, separators: [4], cache: cache, layer: 1, rows: [0]))
    }
}
