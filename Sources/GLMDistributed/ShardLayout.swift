/// How a flat buffer of `total` elements (a model's parameters, gradients or optimizer moments)
/// is cut into one contiguous shard per rank, and into buckets for the collectives.
///
/// Shard r is `[⌊r·total/n⌋, ⌊(r+1)·total/n⌋)` with both ends rounded down to a multiple of
/// `alignment` (the last ends at `total`), so shards differ by at most `alignment` elements and
/// SIMD kernels see aligned starts. Buckets are consecutive ranges of at most `bucketElements`;
/// a collective over a bucket gives rank r the bucket's intersection with shard r
/// (``counts(in:)``), so reduce-scatter and all-gather run bucket by bucket and each piece stays
/// within MPI's 32-bit counts.
public struct ShardLayout: Sendable, Equatable {
    public let total: Int
    public let shards: [Range<Int>]

    public init(total: Int, parts: Int, alignment: Int = 16) {
        precondition(total >= 0 && parts > 0 && alignment > 0, "ShardLayout(total: \(total), parts: \(parts))")
        self.total = total
        func cut(_ r: Int) -> Int {
            if r >= parts { return total }
            // ⌊r·total/parts⌋ in exact double-width arithmetic, then aligned down.
            return parts.dividingFullWidth(total.multipliedFullWidth(by: r)).quotient / alignment * alignment
        }
        shards = (0..<parts).map { r in cut(r)..<Swift.max(cut(r), cut(r + 1)) }
    }

    public var parts: Int { shards.count }

    /// Shard r's elements inside `bucket`, for each r (they add up to `bucket.count`).
    public func counts(in bucket: Range<Int>) -> [Int] {
        shards.map { s in Swift.max(0, Swift.min(s.upperBound, bucket.upperBound) - Swift.max(s.lowerBound, bucket.lowerBound)) }
    }

    /// `0 ..< total` cut into consecutive buckets of at most `bucketElements` (≥ 1).
    public static func buckets(total: Int, bucketElements: Int) -> [Range<Int>] {
        let size = Swift.max(1, bucketElements)
        return stride(from: 0, to: total, by: size).map { $0..<Swift.min(total, $0 + size) }
    }
}
