import Foundation
import GLM
import GLMDistributed
import GLMNN
import GLMSystem
import GLMTensor

/// Checkpoints of a data-parallel run. Rank 0 alone reads and writes the run folder, so the
/// other ranks need no shared file system: at a save they send rank 0 their optimizer shard
/// (ZeRO-1), which rank 0 writes as that rank's shard file; at a resume rank 0 reads the
/// checkpoint and sends every rank its parameters, state and moments.
extension DataParallel {
    static let tagM = 11, tagV = 12

    /// Saves checkpoint `state.step` together: every rank checks that the replicas agree, rank 0
    /// writes the folder (with every rank's optimizer shard under ZeRO-1), the others send
    /// their shard. Every rank calls it at the same step.
    /// Writing may take long on rank 0, so the watchdog does not limit these collectives.
    public func saveCheckpoint(_ checkpoints: RunCheckpoints, model: GLMModel, optimizer: AdamW, state: TrainerState,
                               tokenizerFiles: [URL], keep: Int) throws {
        try comm.unwatched {
            try saveCheckpointWatched(checkpoints, model: model, optimizer: optimizer, state: state, tokenizerFiles: tokenizerFiles, keep: keep)
        }
    }

    private func saveCheckpointWatched(_ checkpoints: RunCheckpoints, model: GLMModel, optimizer: AdamW, state: TrainerState,
                                       tokenizerFiles: [URL], keep: Int) throws {
        try checkReplicasAgree(model.store, step: state.step)
        if comm.isRoot {
            try checkpoints.save(model: model, optimizer: optimizer, state: state, tokenizerFiles: tokenizerFiles, keep: keep,
                                 writeOptimizer: shardsOptimizer ? { try self.writeOptimizerShards(optimizer, into: $0) } : nil)
        } else if shardsOptimizer {
            try comm.send(optimizer.m.floats, bytes: optimizer.shard.count * 4, to: 0, tag: Self.tagM)
            try comm.send(optimizer.v.floats, bytes: optimizer.shard.count * 4, to: 0, tag: Self.tagV)
        }
    }

    /// Rank 0: writes shard r of the moments for every rank r, receiving each from its rank (one
    /// shard in memory at a time).
    func writeOptimizerShards(_ optimizer: AdamW, into dir: URL) throws {
        let total = layout.total
        let largest = layout.shards.map(\.count).max() ?? 0
        let m = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, largest))
        let v = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, largest))
        defer { m.deallocate(); v.deallocate() }
        for (r, range) in layout.shards.enumerated() {
            if r == comm.rank {
                try OptimizerCheckpoint.write(m: optimizer.m.floats, v: optimizer.v.floats, range: range, total: total,
                                              step: optimizer.step, shard: r, of: comm.size, into: dir)
            } else {
                try comm.receive(m, bytes: range.count * 4, from: r, tag: Self.tagM)
                try comm.receive(v, bytes: range.count * 4, from: r, tag: Self.tagV)
                try OptimizerCheckpoint.write(m: m, v: v, range: range, total: total, step: optimizer.step,
                                              shard: r, of: comm.size, into: dir)
            }
        }
    }

    /// After rank 0 restored `dir` into its model and optimizer (`restored` is its state; nil
    /// everywhere when the run starts fresh): rank 0's parameters, state and dropout position go
    /// to every rank, and each rank's optimizer moments — its shard under ZeRO-1, else all of
    /// them — are read by rank 0 from the checkpoint (whatever world size wrote it) and sent.
    /// Returns the state every rank continues from.
    public func distributeStart(from dir: URL?, restored: TrainerState?, model: GLMModel, optimizer: AdamW) throws -> TrainerState? {
        try broadcastValues(model.store)
        var stateBytes: [UInt8] = []
        if comm.isRoot, let restored { stateBytes = Array(try JSONEncoder().encode(restored)) }
        stateBytes = try comm.broadcast(stateBytes)
        guard !stateBytes.isEmpty else { return nil }
        let state: TrainerState
        do { state = try JSONDecoder().decode(TrainerState.self, from: Data(stateBytes)) } catch {
            throw DistributedError.communication("the trainer state sent by rank 0 does not decode: \(error)")
        }
        if shardsOptimizer {
            if comm.isRoot {
                let reader = try dir.map { try OptimizerCheckpoint.Reader(dir: $0, total: layout.total) }
                let largest = layout.shards.map(\.count).max() ?? 0
                let m = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, largest))
                let v = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, largest))
                defer { m.deallocate(); v.deallocate() }
                for (r, range) in layout.shards.enumerated() where r != comm.rank {
                    if let reader { reader.read(range, m: m, v: v) } else { m.update(repeating: 0, count: range.count); v.update(repeating: 0, count: range.count) }
                    try comm.send(m, bytes: range.count * 4, to: r, tag: Self.tagM)
                    try comm.send(v, bytes: range.count * 4, to: r, tag: Self.tagV)
                }
            } else {
                try comm.receive(optimizer.m.floats, bytes: optimizer.shard.count * 4, from: 0, tag: Self.tagM)
                try comm.receive(optimizer.v.floats, bytes: optimizer.shard.count * 4, from: 0, tag: Self.tagV)
            }
        } else {
            try comm.broadcast(optimizer.m.floats, bytes: optimizer.shard.count * 4, root: 0)
            try comm.broadcast(optimizer.v.floats, bytes: optimizer.shard.count * 4, root: 0)
        }
        optimizer.restore(step: state.step)
        model.rng.seek(to: state.dropoutOffset)
        return state
    }
}

extension RunCheckpoints {
    /// Where a run starts, the same on every rank: with `resume`, rank 0 restores the newest
    /// intact checkpoint (`latest`, or the one before it when `latest` is broken, which `log`
    /// reports: ``restoreNewestIntact(model:optimizer:log:)``) into its model and optimizer (a
    /// failure stops every rank, ``Communicator/agree(_:)``); then, when
    /// data-parallel, every rank receives rank 0's parameters, state and its optimizer moments
    /// (``DataParallel/distributeStart(from:restored:model:optimizer:)``), also on a fresh start so
    /// that all replicas begin identical. Returns the state the run continues from: the restored
    /// one (logged with its checkpoint), or step 0 with the model's dropout stream.
    public func start(resume: Bool, model: GLMModel, optimizer: AdamW, comm: Communicator,
                      parallel: DataParallel?, log: (String) -> Void = { _ in }) throws -> TrainerState {
        var dir: URL?
        var restored: TrainerState?
        try comm.agree {
            if comm.isRoot, resume {
                removeStaleTemporaries()
                if let found = try restoreNewestIntact(model: model, optimizer: optimizer, log: log) {
                    restored = found.state
                    dir = found.dir
                }
            }
        }
        if let parallel {
            restored = try parallel.distributeStart(from: dir, restored: restored, model: model, optimizer: optimizer)
        }
        guard let restored else {
            return TrainerState(step: 0, dataCursor: 0, dropoutSeed: model.rng.seed, dropoutOffset: 0, tokens: 0, elapsed: 0)
        }
        model.rng.seek(to: restored.dropoutOffset)
        log("resumed from \(dir?.lastPathComponent ?? "a checkpoint") (step \(restored.step))")
        return restored
    }

    /// Writes a run's resolved settings as `<run>/config.json` (pretty, sorted keys), what
    /// `--resume` reads back.
    public func writeConfig<C: Encodable>(_ config: C) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFolder.writeFile(enc.encode(config), to: runDir.appendingPathComponent("config.json"))
    }
}

extension DataParallel {
    /// What every data-parallel run adds to its observers (after its own): the per-rank memory
    /// report, and a barrier without the watchdog's limit at the steps `waitsForRankZero` names
    /// (rank 0 evaluating or writing). Also installs the launcher-termination message (rank 0's
    /// names the run folder) and the watchdog's resume note.
    public func runObservers(say: @escaping (String) -> Void, checkpoints: RunCheckpoints, resumeCommand: String,
                             waitsForRankZero: @escaping (StepEvent) -> Bool) -> [TrainingObserver] {
        LauncherTermination.install(who: comm.name, checkpoints: comm.isRoot ? checkpoints : nil, resumeCommand: resumeCommand)
        comm.stopNote = "Continue from the last checkpoint with: \(resumeCommand)"
        return [MemoryReportObserver(parallel: self, say: say), RankSyncObserver(comm: comm, when: waitsForRankZero)]
    }
}
