/// The state of a seeded, counter-based random stream (dropout masks, sampling).
///
/// A draw of `n` numbers uses counters `offset ..< offset+n` under `seed`, so results do not
/// depend on how kernels split work over threads, and saving `(seed, offset)` in a checkpoint is
/// enough to resume the exact stream.
public final class RandomState: @unchecked Sendable, Codable {
    public let seed: UInt64
    public private(set) var offset: UInt64

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
}
