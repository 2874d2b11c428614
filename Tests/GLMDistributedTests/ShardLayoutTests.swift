import XCTest
import GLMDistributed

/// Shards and buckets of a flat buffer: cover it exactly, aligned, balanced, intersect right.
final class ShardLayoutTests: XCTestCase {
    func testShardsCoverTheBufferAlignedAndBalanced() {
        for (total, parts) in [(0, 1), (16, 1), (160, 3), (1000, 7), (12_345_680, 4), (48, 5)] {
            let l = ShardLayout(total: total, parts: parts)
            XCTAssertEqual(l.shards.count, parts)
            XCTAssertEqual(l.shards.first?.lowerBound, 0)
            XCTAssertEqual(l.shards.last?.upperBound, total)
            for (a, b) in zip(l.shards, l.shards.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
            for s in l.shards.dropFirst() { XCTAssertEqual(s.lowerBound % 16, 0, "\(total)/\(parts): \(l.shards)") }
            let sizes = l.shards.map(\.count)
            XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 16 + 16, "\(total)/\(parts): \(sizes)")
        }
        XCTAssertEqual(ShardLayout(total: 160, parts: 3).shards, [0..<48, 48..<96, 96..<160])
    }

    func testBucketCountsAreTheIntersections() {
        let l = ShardLayout(total: 160, parts: 3)
        let buckets = ShardLayout.buckets(total: 160, bucketElements: 50)
        XCTAssertEqual(buckets, [0..<50, 50..<100, 100..<150, 150..<160])
        XCTAssertEqual(l.counts(in: 0..<50), [48, 2, 0])
        XCTAssertEqual(l.counts(in: 50..<100), [0, 46, 4])
        XCTAssertEqual(l.counts(in: 150..<160), [0, 0, 10])
        for b in buckets { XCTAssertEqual(l.counts(in: b).reduce(0, +), b.count) }
        XCTAssertEqual(ShardLayout.buckets(total: 0, bucketElements: 10), [])
    }
}
