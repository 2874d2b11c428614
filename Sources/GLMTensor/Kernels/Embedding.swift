// Embedding lookup (word, position and block-position tables) and its scatter-add backward.

extension CPUKernels {
    /// Gathers rows: `out[i, :] = weight[ids[i], :]`.
    /// `ids`: [count], each in [0, V) (the caller validates); `weight`: [V, h]; `out`: [count, h].
    public static func embeddingForward(ids: UnsafePointer<Int32>, count: Int, weight: UnsafePointer<Float>,
                                        out: UnsafeMutablePointer<Float>, h: Int) {
        parallelFor(count, minChunk: max(1, (1 << 15) / max(1, h))) { r in
            for i in r { (out + i * h).update(from: weight + Int(ids[i]) * h, count: h) }
        }
    }

    /// Scatter-adds the output gradient back into the table: `dWeight[ids[i], :] += dOut[i, :]`.
    /// `ids`: [count]; `dOut`: [count, h]; `dWeight`: [V, h] (accumulates).
    ///
    /// Repeated ids would race if threads split the rows, so threads split the h columns
    /// instead: each column is accumulated over i in order, which also makes the result
    /// independent of the thread count.
    public static func embeddingBackward(ids: UnsafePointer<Int32>, count: Int, dOut: UnsafePointer<Float>,
                                         dWeight: UnsafeMutablePointer<Float>, h: Int) {
        let blocks = (h + 15) / 16
        // Split only when each thread gets a fair slice of columns and enough rows to pay for it.
        let minBlocks = count * h >= (1 << 15) ? 4 : blocks
        parallelFor(blocks, minChunk: max(1, minBlocks)) { r in
            let c0 = r.lowerBound * 16, c1 = min(h, r.upperBound * 16)
            for i in 0..<count {
                let d = dWeight + Int(ids[i]) * h, s = dOut + i * h
                var j = c0
                while j + 16 <= c1 { store16(load16(d + j) + load16(s + j), d + j); j += 16 }
                while j < c1 { d[j] += s[j]; j += 1 }
            }
        }
    }
}

extension ReferenceKernels {
    /// `out[i, :] = weight[ids[i], :]`; `ids`: [count], `weight`: [V, h], `out`: [count, h].
    public static func embeddingForward<T: ReferenceFloat>(ids: UnsafePointer<Int32>, count: Int, weight: UnsafePointer<T>,
                                                           out: UnsafeMutablePointer<T>, h: Int) {
        for i in 0..<count { for j in 0..<h { out[i * h + j] = weight[Int(ids[i]) * h + j] } }
    }

    /// `dWeight[ids[i], :] += dOut[i, :]` in order of i; `dOut`: [count, h], `dWeight`: [V, h].
    public static func embeddingBackward<T: ReferenceFloat>(ids: UnsafePointer<Int32>, count: Int, dOut: UnsafePointer<T>,
                                                            dWeight: UnsafeMutablePointer<T>, h: Int) {
        for i in 0..<count { for j in 0..<h { dWeight[Int(ids[i]) * h + j] += dOut[i * h + j] } }
    }
}
