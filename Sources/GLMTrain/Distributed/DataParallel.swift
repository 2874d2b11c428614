import Foundation
import GLMDistributed
import GLMNN
import GLMTensor

/// The settings of data-parallel training (saved in the run's config; flags override them).
public struct ParallelOptions: Codable, Sendable, Equatable {
    /// ZeRO stage: 0 keeps the optimizer moments whole on every rank, 1 shards them (each rank
    /// updates its shard of the parameters, which are then all-gathered).
    public var zero: Int = 0
    /// Size of one gradient bucket in MiB (each bucket is one collective).
    public var bucketMB: Double = 25
    /// Seconds one collective may wait before the watchdog ends the rank (0: never).
    public var commTimeout: Double = 600

    public init() {}

    public func validate() throws {
        guard zero == 0 || zero == 1 else { throw TrainError.config("--zero must be 0 or 1 (ZeRO-1 shards the optimizer moments), got \(zero)") }
        guard bucketMB > 0, bucketMB.isFinite else { throw TrainError.config("--bucket-mb must be positive, got \(bucketMB)") }
        guard commTimeout >= 0, commTimeout.isFinite else { throw TrainError.config("--comm-timeout must be ≥ 0 seconds, got \(commTimeout)") }
    }

    /// Bucket size in f32 elements (a multiple of 16, at least 16).
    public var bucketElements: Int { Swift.max(16, Int(bucketMB * 1_048_576 / 4) / 16 * 16) }
}

/// Data-parallel training of one model on ``Communicator/size`` processes: what
/// ``TrainingStep`` does between backward and the next step when the batch is split.
///
/// Without ZeRO every rank keeps the whole optimizer: the gradient buffer is all-reduced in
/// buckets (consecutive ranges of ``ParameterStore/grads``), every rank clips by the same global
/// norm and applies the same update, so the replicas stay identical. With ZeRO-1 the gradient
/// buffer is reduce-scattered instead: rank r receives the summed gradient of its shard only
/// (``ShardLayout``), computes its shard's sum of squares, the ranks add those up for the global
/// norm (clipping needs the whole gradient's norm), rank r updates its shard with moments that
/// cover only that shard, and the parameters are all-gathered in buckets.
///
/// Collectives are timed; ``takeCommSeconds()`` reports the time of the last step.
public final class DataParallel {
    public let comm: Communicator
    public let options: ParallelOptions
    public let layout: ShardLayout
    public let buckets: [Range<Int>]
    public let part: BatchPart
    private var commSeconds = 0.0

    /// `store`: the model's parameters (identical layout on every rank).
    public init(comm: Communicator, store: ParameterStore, options: ParallelOptions) {
        self.comm = comm
        self.options = options
        layout = ShardLayout(total: store.totalCount, parts: comm.size)
        buckets = ShardLayout.buckets(total: store.totalCount, bucketElements: options.bucketElements)
        part = BatchPart(comm)
    }

    /// Whether the optimizer moments are sharded (ZeRO-1).
    public var shardsOptimizer: Bool { options.zero >= 1 }

    /// The range of the store this rank's optimizer owns (the whole store without ZeRO).
    public var optimizerShard: Range<Int> { shardsOptimizer ? layout.shards[comm.rank] : 0..<layout.total }

    /// Seconds spent in collectives since the last call.
    public func takeCommSeconds() -> Double {
        defer { commSeconds = 0 }
        return commSeconds
    }

    private func timed<T>(_ body: () throws -> T) rethrows -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { commSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }
        return try body()
    }

    // MARK: the step

    /// Sums the ranks' gradients: all of them on every rank, or (ZeRO-1) each rank's shard on it.
    public func reduceGradients(_ store: ParameterStore) throws {
        let g = store.grads.floats
        try timed {
            for b in buckets {
                if shardsOptimizer {
                    try comm.reduceScatterSum(g + b.lowerBound, counts: layout.counts(in: b))
                } else {
                    try comm.allReduceSum(g + b.lowerBound, count: b.count)
                }
            }
        }
    }

    /// The sum over ranks of each rank's share of the loss: the global batch loss.
    public func sumLoss(_ local: Float) throws -> Float {
        try timed { try comm.sum(local) }
    }

    /// Global gradient-norm clipping after ``reduceGradients(_:)``; returns the norm before
    /// clipping (0 for `maxNorm` 0: the norm alone).
    public func clip(_ store: ParameterStore, maxNorm: Float) throws -> Float {
        guard shardsOptimizer else {
            // Every rank holds the same summed gradient: the single-process code, bit for bit.
            return maxNorm > 0 ? clipGradNorm(store, maxNorm: maxNorm) : Float(Ops.norm(store.grads))
        }
        let shard = store.grads.elements(optimizerShard)
        let squares = Ops.sumOfSquares(shard)
        let norm = Float(try timed { try comm.sum(squares) }.squareRoot())
        if maxNorm > 0, let coef = Ops.clipCoefficient(norm: norm, maxNorm: maxNorm) { Ops.scale(shard, by: coef) }
        return norm
    }

    /// The optimizer update: the whole store on every rank, or (ZeRO-1) this rank's shard, then
    /// every shard to every rank.
    public func update(_ optimizer: AdamW, store: ParameterStore, lr: Double) throws {
        guard shardsOptimizer else { optimizer.update(lr: lr); return }
        optimizer.update(lr: lr, refreshBF16: false)
        try gatherValues(store)
        if store.bf16Values != nil { store.refreshBF16() }
    }

    /// All-gathers the parameter shards (ZeRO-1), bucket by bucket.
    func gatherValues(_ store: ParameterStore) throws {
        let v = store.values.floats
        try timed {
            for b in buckets { try comm.allGather(v + b.lowerBound, counts: layout.counts(in: b)) }
        }
    }

    /// One stop decision for all ranks: the first signal any rank received, else the time limit
    /// if any rank reached it (ranks must stop after the same step, or they wait for each other).
    public func agree(on local: StopReason?) throws -> StopReason? {
        var signal = 0.0, time = 0.0
        switch local {
        case let .signal(s)?: signal = Double(s)
        case .timeLimit?: time = 1
        default: break
        }
        let m = try timed { try comm.max([signal, time]) }
        if m[0] > 0 { return .signal(Int32(m[0])) }
        if m[1] > 0 { return .timeLimit }
        return nil
    }

    /// Whether any rank wants to stop (`local`: this rank does), for abandoning a step between
    /// micro-batches: every rank must call it at the same micro-batch.
    public func agreeToStop(_ local: Bool) throws -> Bool {
        try timed { try comm.max([local ? 1 : 0]) }[0] > 0
    }

    /// Brings every rank's dropout stream to the furthest position after a micro-batch that left
    /// some rank an empty part: that rank ran no dropout and would otherwise fall behind.
    public func syncDropout(_ rng: RandomState) throws {
        // Offsets stay far below 2^53, where doubles are exact.
        let m = try timed { try comm.max([Double(rng.offset)]) }
        rng.seek(to: UInt64(m[0]))
    }

    // MARK: start and checks

    /// Rank 0's parameter values on every rank (the start of a run, or after a restore on rank 0).
    public func broadcastValues(_ store: ParameterStore) throws {
        try comm.broadcast(store.values.floats, bytes: store.totalCount * MemoryLayout<Float>.size, root: 0)
        if store.bf16Values != nil { store.refreshBF16() }
    }

    /// Throws when the ranks' parameters differ (replicas that drifted apart would train
    /// different models); named by rank. Run at checkpoints.
    public func checkReplicasAgree(_ store: ParameterStore, step: Int) throws {
        var d = Digest64()
        d.update(words: store.values.floats, count: store.totalCount)
        let h = d.value
        let all = try comm.allGather(bytes: withUnsafeBytes(of: h.littleEndian) { Array($0) })
        let differ = all.indices.filter { all[$0] != all[0] }
        guard differ.isEmpty else {
            throw DistributedError.disagreement("after step \(step) the parameters of rank\(differ.count > 1 ? "s" : "") \(differ.map(String.init).joined(separator: ", ")) differ from rank 0's: the replicas drifted apart (an MPI all-reduce that is not identical on every rank?)")
        }
    }
}
