/// The state of a seeded, counter-based random stream (dropout masks, sampling).
///
/// A draw of `n` numbers uses counters `offset ..< offset+n` under `seed`, so results do not
/// depend on how kernels split work over threads, and saving `(seed, offset)` in a checkpoint is
/// enough to resume the exact stream.
///
/// Under data parallelism each process holds some rows of a larger batch. With ``rows`` set,
/// a draw over a tensor whose leading dimension is those rows reserves the counters of the whole
/// batch and hands out the part its rows would get there, so a row's dropout mask depends on
/// (seed, step, global row) only — not on which process trains it or how the batch is split —
/// and every process's stream advances the same. Without ``rows`` nothing changes.
public final class RandomState: @unchecked Sendable, Codable {
    public let seed: UInt64
    public private(set) var offset: UInt64
    /// The rows of the whole batch the next draws belong to (nil: draws cover the whole batch).
    public var rows: RowWindow?

    enum CodingKeys: String, CodingKey { case seed, offset }

    public init(seed: UInt64, offset: UInt64 = 0) {
        self.seed = seed
        self.offset = offset
    }

    /// Moves the stream to `offset` (resuming from a checkpoint).
    public func seek(to offset: UInt64) { self.offset = offset }

    /// Reserves `count` counters and returns the first.
    public func advance(_ count: Int) -> UInt64 {
        let o = offset
        offset &+= UInt64(count)
        return o
    }

    /// Reserves the counters of a draw over a tensor of `count` elements whose leading dimension
    /// has `leadingRows` rows, and returns the first counter of this tensor's elements. When
    /// ``rows`` describes those rows (its `count` equals `leadingRows`) the reservation is that
    /// of the whole batch (`total` rows) and the tensor gets the counters of rows
    /// `first ..< first + count`, exactly the ones a single process holding the whole batch would
    /// give them; otherwise this is ``advance(_:)``.
    public func advance(_ count: Int, leadingRows: Int) -> UInt64 {
        guard let w = rows, leadingRows > 0, w.count == leadingRows, count % leadingRows == 0 else { return advance(count) }
        let perRow = count / leadingRows
        let base = advance(perRow * w.total)
        return base &+ UInt64(perRow * w.first)
    }
}

/// Rows `first ..< first + count` of a batch of `total` rows: the part of a global batch one
/// data-parallel process trains on.
public struct RowWindow: Sendable, Equatable, Codable {
    public var first: Int
    public var count: Int
    public var total: Int

    /// `first ≥ 0`, `count > 0`, `first + count ≤ total` (checked).
    public init(first: Int, count: Int, total: Int) {
        precondition(first >= 0 && count > 0 && first + count <= total, "rows \(first)..<\(first + count) are not inside a batch of \(total)")
        self.first = first; self.count = count; self.total = total
    }

    public var range: Range<Int> { first..<(first + count) }
}
