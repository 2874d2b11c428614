/// Keys and values of every token run so far, per layer, for up to ``rows`` sequences: the state
/// that ``Ops/attention(_:heads:separators:cache:layer:rows:)`` reads and appends to.
///
/// Caching K and V after the layer norm and projection is equivalent to the official code's
/// hidden-state memories, since past rows never change (docs/official-glm.md §1.5).
///
/// Layout per layer: `[rows, capacity, h]` for K and for V, heads contiguous inside h, so a new
/// token appends one row and attention reads a head with a leading dimension of h. Each sequence
/// has its own length: sequences of different lengths share one cache without padding, which is
/// what batched decoding of unrelated prompts needs.
public final class KVCache: @unchecked Sendable {
    /// Sequences the cache holds.
    public let rows: Int
    /// Tokens each sequence can hold.
    public let capacity: Int
    /// Layers and hidden size (K and V are `[rows, capacity, hidden]` per layer).
    public let layers: Int
    public let hidden: Int
    let keys: [Tensor]
    let values: [Tensor]
    /// Tokens cached so far, per sequence.
    public private(set) var lengths: [Int]

    /// An empty cache; the memory is `2 · layers · rows · capacity · hidden` floats.
    public init(rows: Int, capacity: Int, layers: Int, hidden: Int) {
        precondition(rows > 0 && capacity > 0 && layers > 0 && hidden > 0, "KVCache sizes must be positive")
        self.rows = rows
        self.capacity = capacity
        self.layers = layers
        self.hidden = hidden
        keys = (0..<layers).map { _ in Tensor(uninitialized: [rows, capacity, hidden]) }
        values = (0..<layers).map { _ in Tensor(uninitialized: [rows, capacity, hidden]) }
        lengths = [Int](repeating: 0, count: rows)
    }

    /// Bytes a cache of these sizes takes, or nil when the product overflows.
    public static func bytes(rows: Int, capacity: Int, layers: Int, hidden: Int) -> Int? {
        var total = 2 * 4
        for f in [rows, capacity, layers, hidden] {
            let (p, o) = total.multipliedReportingOverflow(by: f)
            if o || f < 0 { return nil }
            total = p
        }
        return total
    }

    /// Marks `n` more tokens of each sequence in `rows` as cached (after every layer has written them).
    public func advance(rows: [Int], by n: [Int]) {
        for (r, k) in zip(rows, n) { lengths[r] += k }
    }

    /// Forgets tokens of sequence `row` past `n` (e.g. to rerun from a shared prefix, or 0 to reuse the row).
    public func truncate(row: Int, to n: Int) { lengths[row] = min(lengths[row], max(0, n)) }

    /// Makes sequence `destination` a copy of sequence `source` (its tokens and length).
    public func copy(row source: Int, to destination: Int) {
        guard source != destination else { return }
        let n = lengths[source] * hidden
        for t in keys + values {
            (t.floats + destination * capacity * hidden).update(from: t.floats + source * capacity * hidden, count: n)
        }
        lengths[destination] = lengths[source]
    }

    /// Rearranges sequences among `rows`: `rows[i]` becomes a copy of old `rows[sources[i]]`
    /// (beam search keeping and duplicating beams). `sources` index into `rows`.
    public func reorder(rows subset: [Int], sources: [Int]) {
        precondition(sources.count == subset.count && sources.allSatisfy { $0 >= 0 && $0 < subset.count }, "bad beam sources \(sources)")
        if sources == Array(subset.indices) { return }
        let oldLengths = subset.map { lengths[$0] }
        for t in keys + values {
            let copies = subset.map { r -> [Float] in
                Array(UnsafeBufferPointer(start: t.floats + r * capacity * hidden, count: lengths[r] * hidden))
            }
            for (i, s) in sources.enumerated() {
                copies[s].withUnsafeBufferPointer { (t.floats + subset[i] * capacity * hidden).update(from: $0.baseAddress!, count: $0.count) }
            }
        }
        for (i, s) in sources.enumerated() { lengths[subset[i]] = oldLengths[s] }
    }
}
