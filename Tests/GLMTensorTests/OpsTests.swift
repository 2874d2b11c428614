import XCTest
import GLMTensor

/// Each differentiable op: its backward against central finite differences of its forward, and
/// its forward against a plain loop where the kernel tests do not already cover it.
final class OpsTests: XCTestCase {
    private func randn(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
        let t = Tensor(uninitialized: shape)
        CounterRNG.fillNormal(t.floats, count: t.count, mean: 0, std: std, seed: seed, offset: 0)
        return t
    }

    /// Checks d(Σ r·f(x))/dx for every element of the inputs listed in `wrt`.
    private func checkGradients(_ inputs: [Tensor], wrt: [Int], eps: Float = 1e-2, tolerance: Double = 2e-2,
                                file: StaticString = #filePath, line: UInt = #line,
                                _ f: ([Tensor]) throws -> Tensor) throws {
        var leaves = inputs, grads: [Tensor?] = Array(repeating: nil, count: inputs.count)
        for i in wrt { let (v, g) = Autograd.leaf(inputs[i], name: "in\(i)"); leaves[i] = v; grads[i] = g }
        let y = try f(leaves)
        let r = randn(y.shape, seed: 99)
        try y.backward(r)
        func objective() throws -> Double {
            let out = try Autograd.withNoGrad { try f(leaves) }.toArray(), rv = r.toArray()
            return zip(out, rv).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        for i in wrt {
            let x = leaves[i].floats
            let analytic = grads[i]!.toArray()
            let scale = max(analytic.map { abs(Double($0)) }.max() ?? 0, 1e-3)
            for j in 0..<leaves[i].count {
                let keep = x[j]
                x[j] = keep + eps; let up = try objective()
                x[j] = keep - eps; let down = try objective()
                x[j] = keep
                let numeric = (up - down) / (2 * Double(eps))
                XCTAssertEqual(Double(analytic[j]), numeric, accuracy: tolerance * scale,
                               "input \(i) element \(j)", file: file, line: line)
            }
        }
    }

    func testLinearGradients() throws {
        let x = randn([3, 5], seed: 1), w = randn([7, 5], seed: 2), b = randn([7], seed: 3)
        try checkGradients([x, w, b], wrt: [0, 1, 2]) { try Ops.linear($0[0], weight: $0[1], bias: $0[2]) }
        // Leading dimensions flatten: [2, 3, 5] · [7, 5]ᵀ → [2, 3, 7].
        let y = try Ops.linear(randn([2, 3, 5], seed: 4), weight: w)
        XCTAssertEqual(y.shape, [2, 3, 7])
        XCTAssertThrowsError(try Ops.linear(x, weight: randn([7, 4], seed: 5))) { e in
            XCTAssertEqual(e as? TensorError, .shapeMismatch(op: "linear", lhs: [3, 5], rhs: [7, 4]))
        }
    }

    func testBF16LinearIsCloseToF32() throws {
        let x = randn([9, 64], seed: 6), w = randn([33, 64], seed: 7)
        let ref = try Ops.linear(x, weight: w).toArray()
        let got = try Ops.linear(x, weight: w, weightBF16: w.converted(to: .bf16)).toArray()
        for (a, b) in zip(ref, got) { XCTAssertEqual(a, b, accuracy: 0.1) }   // bf16: 8 bits of mantissa, k = 64
    }

    func testLayerNormGeluAddGradients() throws {
        let x = randn([4, 19], seed: 8), w = randn([19], seed: 9), b = randn([19], seed: 10)
        try checkGradients([x, w, b], wrt: [0, 1, 2]) { try Ops.layerNorm($0[0], weight: $0[1], bias: $0[2]) }
        for approx in [GELUApproximation.tanh, .erf] {
            try checkGradients([randn([3, 17], seed: 11)], wrt: [0]) { try Ops.gelu($0[0], approximation: approx) }
        }
        // A tensor used twice accumulates both gradients.
        try checkGradients([randn([2, 5], seed: 12)], wrt: [0]) { try Ops.add($0[0], Ops.gelu($0[0])) }
    }

    func testEmbeddingGradientScatterAdds() throws {
        let ids = try Tensor(int32: [3, 1, 3, 0, 2], shape: [5])
        try checkGradients([ids, randn([4, 6], seed: 13)], wrt: [1]) { try Ops.embedding($0[0], weight: $0[1]) }
        XCTAssertThrowsError(try Ops.embedding(try Tensor(int32: [4], shape: [1]), weight: randn([4, 6], seed: 1)))
    }

    func testAttentionWithSeparatorsMatchesNaiveAndGradients() throws {
        let b = 2, s = 5, heads = 2, h = 6, d = 3
        let qkv = randn([b, s, 3 * h], seed: 14)
        let seps: [Int32] = [2, 5]
        let out = try Ops.attention(qkv, heads: heads, mask: .separators(seps)).toArray()
        let q = qkv.toArray()
        for bi in 0..<b { for j in 0..<heads { for i in 0..<s {
            var scores = [Double](repeating: 0, count: s)
            for c in 0..<s {
                var dot = 0.0
                for e in 0..<d { dot += Double(q[(bi * s + i) * 3 * h + j * d + e]) * Double(q[(bi * s + c) * 3 * h + h + j * d + e]) }
                let visible = c < Int(seps[bi]) || c <= i
                scores[c] = visible ? dot / Double(d).squareRoot() : -65504
            }
            let mx = scores.max()!
            let e = scores.map { Foundation.exp($0 - mx) }, z = e.reduce(0, +)
            for e2 in 0..<d {
                var v = 0.0
                for c in 0..<s { v += e[c] / z * Double(q[(bi * s + c) * 3 * h + 2 * h + j * d + e2]) }
                XCTAssertEqual(Double(out[(bi * s + i) * h + j * d + e2]), v, accuracy: 1e-5)
            }
        } } }
        try checkGradients([qkv], wrt: [0]) { try Ops.attention($0[0], heads: heads, mask: .separators(seps)) }
        XCTAssertThrowsError(try Ops.attention(qkv, heads: heads, mask: .separators([1, 6])))
        XCTAssertThrowsError(try Ops.attention(qkv, heads: 4, mask: .separators(seps)))
    }

    func testAttentionExplicitMaskEqualsSeparatorMask() throws {
        let b = 2, s = 6, heads = 2
        let qkv = randn([b, s, 3 * 8], seed: 15)
        let seps: [Int32] = [0, 4]
        var m = [Float]()
        for bi in 0..<b { for i in 0..<s { for c in 0..<s { m.append(c < Int(seps[bi]) || c <= i ? 1 : 0) } } }
        let explicit = try Ops.attention(qkv, heads: heads, mask: .explicit(Tensor(m, shape: [b, 1, s, s]))).toArray()
        let sep = try Ops.attention(qkv, heads: heads, mask: .separators(seps)).toArray()
        for (x, y) in zip(explicit, sep) { XCTAssertEqual(x, y, accuracy: 1e-6) }
        try checkGradients([qkv], wrt: [0]) { try Ops.attention($0[0], heads: heads, mask: .explicit(Tensor(m, shape: [b, 1, s, s]))) }
    }

    func testAttentionDropoutBackwardUsesTheSameMask() throws {
        let qkv = randn([1, 4, 3 * 4], seed: 16)
        // The same seed and offset reproduce the same dropout mask on every evaluation.
        try checkGradients([qkv], wrt: [0]) {
            try Ops.attention($0[0], heads: 2, mask: .separators([2]), dropout: 0.3, rng: RandomState(seed: 5))
        }
        try checkGradients([randn([3, 7], seed: 17)], wrt: [0]) { try Ops.dropout($0[0], p: 0.4, rng: RandomState(seed: 6)) }
    }

    func testCrossEntropyLossAndGradient() throws {
        let n = 4, v = 11
        let logits = randn([n, v], seed: 18)
        let targets = try Tensor(int32: [3, 10, 999, 0], shape: [n])   // row 2 is masked out: its target is ignored
        let mask = try Tensor([1, 0.5, 0, 1], shape: [n])
        let loss = try Ops.crossEntropy(logits, targets: targets, lossMask: mask).item
        let l = logits.toArray()
        var expect = 0.0
        for (i, (t, w)) in [(3, 1.0), (10, 0.5), (0, 0.0), (0, 1.0)].enumerated() where w > 0 {
            let row = l[(i * v)..<((i + 1) * v)].map(Double.init)
            let mx = row.max()!, lse = mx + Foundation.log(row.map { Foundation.exp($0 - mx) }.reduce(0, +))
            expect += w * (lse - row[t])
        }
        XCTAssertEqual(Double(loss), expect / 2.5, accuracy: 1e-5)
        try checkGradients([logits], wrt: [0]) {
            try Ops.crossEntropy($0[0], targets: targets, lossMask: mask).reshaped([1])
        }
        XCTAssertThrowsError(try Ops.crossEntropy(logits, targets: try Tensor(int32: [0, 11, 0, 0], shape: [n]), lossMask: mask))
    }

    /// Label smoothing ε = 0.1 (the official seq2seq loss): value by hand and gradient by finite differences.
    func testSmoothedCrossEntropyLossAndGradient() throws {
        let n = 4, v = 11, eps = 0.1
        let logits = randn([n, v], seed: 19)
        let targets = try Tensor(int32: [3, 10, 999, 0], shape: [n])
        let mask = try Tensor([1, 0.5, 0, 1], shape: [n])
        let loss = try Ops.crossEntropy(logits, targets: targets, lossMask: mask, labelSmoothing: Float(eps)).item
        let l = logits.toArray()
        var expect = 0.0
        for (i, (t, w)) in [(3, 1.0), (10, 0.5), (0, 0.0), (0, 1.0)].enumerated() where w > 0 {
            let row = l[(i * v)..<((i + 1) * v)].map(Double.init)
            let mx = row.max()!, lse = mx + Foundation.log(row.map { Foundation.exp($0 - mx) }.reduce(0, +))
            let smooth = row.map { lse - $0 }.reduce(0, +) / Double(v)
            expect += w * ((1 - eps) * (lse - row[t]) + eps * smooth)
        }
        XCTAssertEqual(Double(loss), expect / 2.5, accuracy: 1e-5)
        try checkGradients([logits], wrt: [0]) {
            try Ops.crossEntropy($0[0], targets: targets, lossMask: mask, labelSmoothing: Float(eps)).reshaped([1])
        }
        XCTAssertThrowsError(try Ops.crossEntropy(logits, targets: targets, lossMask: mask, labelSmoothing: 1))
        XCTAssertThrowsError(try Ops.crossEntropy(logits, targets: targets, lossMask: mask, labelSmoothing: -0.1))
    }

    func testSelectionOpGradients() throws {
        let logits = randn([4, 9], seed: 21)
        try checkGradients([logits], wrt: [0]) { try Ops.tokenLogProbs($0[0], targets: [3, 0, 8, 3]) }
        try checkGradients([logits], wrt: [0]) { try Ops.gatherColumns($0[0], columns: [[1, 2], [0, 0], [8, 3], [5, 6]]) }
        try checkGradients([randn([7], seed: 22)], wrt: [0]) {
            try Ops.groupSums($0[0], groups: [[0, 2, 2], nil, [6], [1, 3, 4, 5]], weights: [0.5, 1, -2, 0.25], fill: -10000)
        }
        // Forward values against plain loops.
        let lp = try Ops.tokenLogProbs(logits, targets: [3, 0, 8, 3]).toArray(), x = logits.toArray()
        for (i, t) in [3, 0, 8, 3].enumerated() {
            let row = x[(i * 9)..<((i + 1) * 9)].map(Double.init)
            let z = row.map { exp($0) }.reduce(0, +)
            XCTAssertEqual(Double(lp[i]), row[row.startIndex + t] - log(z), accuracy: 1e-5)
        }
        let sums = try Ops.groupSums(try Tensor([1, 2, 3], shape: [3]), groups: [[0, 1, 2], nil, [2, 2]], weights: [0.5, 1, 1], fill: -7).toArray()
        XCTAssertEqual(sums, [3, -7, 6])
        XCTAssertEqual(try Ops.rowArgmax(try Tensor([1, 5, 5, 0, -1, -3, -2, -1], shape: [2, 4])), [1, 0])
        XCTAssertThrowsError(try Ops.tokenLogProbs(logits, targets: [3, 0, 9, 3]))
        XCTAssertThrowsError(try Ops.gatherColumns(logits, columns: [[1], [0], [8], [9]]))
        XCTAssertThrowsError(try Ops.groupSums(try Tensor([1], shape: [1]), groups: [[1]], weights: [1]))
    }
}
