import GLMDistributed
import GLMTensor

/// Which rows of every global micro-batch this process trains on: the split convention of
/// data-parallel training, which every ``BatchSource`` follows.
///
/// Micro-batch k is one global batch (`--batch-size` rows, the same on every rank, built from
/// (seed, k) alone). Rank r of n takes rows `⌊r·b/n⌋ ..< ⌊(r+1)·b/n⌋` (when n does not divide b
/// the parts differ by one row and the largest part sets the pace; a batch of fewer rows than
/// ranks — the last of a fine-tuning epoch — leaves some ranks an empty part: they train nothing
/// on it, ``TrainingBatch/empty(tokens:label:)``). A source then hands out a ``TrainingBatch`` whose
/// - `loss` is this part's share of the global batch loss: its rows' `Σ CE·mask` divided by the
///   mask sum of the WHOLE batch (``normalizer(wholeBatchMask:)``), so the ranks' losses and
///   gradients add up to exactly those of one process holding the whole batch;
/// - `rows` is ``window(rows:)``, so dropout draws what the whole batch would draw for these
///   rows (``RandomState/rows``);
/// - `tokens` counts the whole batch (throughput is reported for the job).
///
/// A single process is ``whole``: no window, no normaliser, numerics exactly as before.
public struct BatchPart: Sendable, Equatable {
    public let rank: Int
    public let count: Int

    public init(rank: Int, of count: Int) {
        precondition(count > 0 && rank >= 0 && rank < count, "rank \(rank) of \(count)")
        self.rank = rank; self.count = count
    }

    /// One process holding every row.
    public static let whole = BatchPart(rank: 0, of: 1)

    /// The part of a communicator's rank.
    public init(_ comm: Communicator) { self.init(rank: comm.rank, of: comm.size) }

    /// Whether this process holds every row.
    public var isWhole: Bool { count == 1 }

    /// This rank's rows of a global batch of `rows` rows (empty when `rows` < ``count`` for some ranks).
    public func range(rows: Int) -> Range<Int> {
        (rank * rows / count)..<((rank + 1) * rows / count)
    }

    /// Checks before training that every rank gets rows of a batch of `batchSize`.
    public func check(batchSize: Int) throws {
        guard batchSize >= count else {
            throw DistributedError.invalid("a batch of \(batchSize) rows cannot be split over \(count) ranks: use --batch-size of at least \(count) (a multiple of \(count) keeps the ranks equally busy)")
        }
    }

    /// The dropout window of this rank's rows (nil for ``whole`` and for an empty part).
    public func window(rows: Int) -> RowWindow? {
        let r = range(rows: rows)
        guard !isWhole, !r.isEmpty else { return nil }
        return RowWindow(first: r.lowerBound, count: r.count, total: rows)
    }

    /// The loss denominator for this rank's part: the whole batch's mask sum (nil for ``whole``,
    /// whose loss divides by its own mask sum as always).
    public func normalizer(wholeBatchMask: Double) -> Double? {
        isWhole || wholeBatchMask <= 0 ? nil : wholeBatchMask
    }
}
