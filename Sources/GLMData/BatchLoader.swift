import Foundation
import GLMSystem

/// The batch stream of a training run: batch `k` is a pure function of `(seed, k)`.
///
/// Batch `k` packs samples `k·batchSize ..< (k+1)·batchSize` of the dataset (each seeded by its own
/// index) and collates them with a generator seeded by `(seed, k)`. So a run that stopped after
/// consuming `cursor` batches resumes with `BatchLoader(…, cursor: cursor)` and sees exactly the
/// batches it would have seen. A background thread keeps up to `prefetch` batches ready so the
/// training loop never waits on data.
public final class BatchLoader: @unchecked Sendable {
    // Safety: mutable state (queue, cursor, produced, stopped) is only touched under `condition`.
    public let dataset: ShardDataset
    public let collator: BlockCollator
    public let batchSize: Int
    public let seed: UInt64
    public let prefetch: Int

    private let state: PrefetchState

    /// - Parameters:
    ///   - cursor: batches already consumed (from a checkpoint); the next ``next()`` returns batch `cursor`.
    ///   - prefetch: batches computed ahead of the consumer; 0 computes on demand in ``next()``.
    public init(dataset: ShardDataset, collator: BlockCollator, batchSize: Int, seed: UInt64,
                cursor: Int = 0, prefetch: Int = 4) throws {
        guard batchSize >= 1 else { throw GLMDataError.invalidConfig(field: "batchSize", reason: "must be at least 1") }
        guard cursor >= 0 else { throw GLMDataError.invalidConfig(field: "cursor", reason: "must not be negative") }
        self.dataset = dataset; self.collator = collator; self.batchSize = batchSize; self.seed = seed
        self.prefetch = max(0, prefetch)
        let state = PrefetchState(cursor: cursor, prefetch: self.prefetch)
        self.state = state
        if self.prefetch > 0 {
            // The thread holds the state and the (immutable) inputs, never the loader, so dropping the
            // loader stops the thread through deinit.
            let make: @Sendable (Int) -> Batch = { k in
                BatchLoader.makeBatch(k, dataset: dataset, collator: collator, batchSize: batchSize, seed: seed)
            }
            let t = Thread { state.run(make) }
            t.name = "glm-data-prefetch"
            t.start()
        }
    }

    deinit { state.stop() }

    /// Batches consumed so far (save this in a checkpoint).
    public var cursor: Int { state.cursor }

    /// Batches computed and waiting; 0 right before a ``next()`` means training would wait on data.
    public var prefetched: Int { state.readyCount }

    /// Batch `k` of the stream, computed directly (no prefetch): the function the loader evaluates.
    public func batch(_ k: Int) -> Batch {
        BatchLoader.makeBatch(k, dataset: dataset, collator: collator, batchSize: batchSize, seed: seed)
    }

    /// Batch `k` for the given settings: samples `k·b ..< (k+1)·b`, collated with generator `(seed, k)`.
    /// Throws ``GLMDataError/invalidConfig(field:reason:)`` unless batches `first ..< first + count`
    /// of `batchSize` samples have sample indices that fit in an `Int` (batch k holds samples
    /// `k·batchSize ..< (k+1)·batchSize`), and `batchSize` is at least 1.
    public static func checkRange(first: Int, count: Int, batchSize: Int) throws {
        guard batchSize >= 1 else { throw GLMDataError.invalidConfig(field: "batchSize", reason: "must be at least 1, found \(batchSize)") }
        guard first >= 0, count >= 0 else {
            throw GLMDataError.invalidConfig(field: "batch index", reason: "must be 0 or more, found \(first) and count \(count)")
        }
        guard let end = CheckedSize.sum([first, count]), CheckedSize.product([end, batchSize]) != nil else {
            throw GLMDataError.invalidConfig(field: "batch index", reason: "batches \(first) + \(count) of \(batchSize) samples pass the largest sample index \(Int.max)")
        }
    }

    public static func makeBatch(_ k: Int, dataset: ShardDataset, collator: BlockCollator, batchSize: Int, seed: UInt64) -> Batch {
        let samples = (0..<batchSize).map {
            dataset.sample(index: k * batchSize + $0, seed: seed, seqLength: collator.seqLength)
        }
        var rng = GLMRandom(seed: seed, stream: .collator, index: k)
        return collator.collate(samples, rng: &rng)
    }

    /// The next batch; waits only if the prefetch thread has fallen behind.
    public func next() -> Batch {
        if prefetch == 0 { return batch(state.take()) }
        let (k, ready) = state.takeReady()
        return ready ?? batch(k)
    }

    /// Stops the prefetch thread (also done on deinit); later ``next()`` calls compute batches inline.
    public func stop() { state.stop() }
}

/// The queue shared by the consumer and the prefetch thread; everything under `condition`.
final class PrefetchState: @unchecked Sendable {
    private let condition = NSCondition()
    private var ready: [Int: Batch] = [:]
    private var consumed: Int
    private var produced: Int
    private var stopped = false
    private let prefetch: Int

    init(cursor: Int, prefetch: Int) { consumed = cursor; produced = cursor; self.prefetch = prefetch }

    var cursor: Int { condition.lock(); defer { condition.unlock() }; return consumed }
    var readyCount: Int { condition.lock(); defer { condition.unlock() }; return ready.count }

    func take() -> Int {
        condition.lock(); defer { condition.unlock() }
        consumed += 1
        produced = consumed
        return consumed - 1
    }

    /// The next index and its batch, waiting for the thread; nil batch once stopped (caller computes it).
    func takeReady() -> (Int, Batch?) {
        condition.lock()
        let k = consumed
        consumed += 1
        condition.broadcast()
        while ready[k] == nil && !(stopped && produced <= k) { condition.wait() }
        let b = ready.removeValue(forKey: k)
        if b == nil { produced = max(produced, consumed) }
        condition.unlock()
        return (k, b)
    }

    func stop() {
        condition.lock(); stopped = true; condition.broadcast(); condition.unlock()
    }

    func run(_ make: (Int) -> Batch) {
        while true {
            condition.lock()
            // Batches are made in order; batch `consumed` is always among the next `prefetch`.
            while !stopped && produced >= consumed + prefetch { condition.wait() }
            if stopped { condition.unlock(); return }
            let k = produced
            produced += 1
            condition.unlock()
            let b = make(k)
            condition.lock()
            ready[k] = b
            condition.broadcast()
            condition.unlock()
        }
    }
}
