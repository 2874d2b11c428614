import Foundation
import GLM
import GLMNN
import GLMSystem
import GLMTensor

/// What besides the weights a run needs to continue exactly where it stopped.
public struct TrainerState: Codable, Sendable, Equatable {
    /// Optimizer updates done.
    public var step: Int
    /// Batches consumed from the data stream.
    public var dataCursor: Int
    /// The dropout stream.
    public var dropoutSeed: UInt64
    public var dropoutOffset: UInt64
    /// Training tokens seen.
    public var tokens: Int
    /// Seconds of training so far (for throughput and ETA across restarts).
    public var elapsed: Double

    public init(step: Int, dataCursor: Int, dropoutSeed: UInt64, dropoutOffset: UInt64, tokens: Int, elapsed: Double) {
        self.step = step; self.dataCursor = dataCursor; self.dropoutSeed = dropoutSeed; self.dropoutOffset = dropoutOffset
        self.tokens = tokens; self.elapsed = elapsed
    }
}

/// A run folder's checkpoints: `checkpoints/step-N/` (an HF-shaped model folder plus the
/// optimizer moments — `optimizer.safetensors`, or one shard file per rank from a ZeRO-1 run,
/// see ``OptimizerCheckpoint`` — `trainer_state.json`, and `checksums.json`, written last, see
/// ``CheckpointIntegrity``) and `latest`, the pointer written after the folder.
///
/// Each checkpoint is written under a temporary name and renamed into place, then `latest` is
/// replaced by rename, so a crash at any moment leaves the previous checkpoint as `latest`.
/// Weights or moments that are not finite are never saved. A resume verifies the checksums, the
/// finite values and the state of `latest` and, when anything is wrong (or `latest` itself is
/// garbage), says what and falls back to the newest intact checkpoint
/// (``restoreNewestIntact(model:optimizer:log:)``). Rotation never deletes a checkpoint newer
/// than the one just written, so the last intact one survives.
public struct RunCheckpoints {
    public let runDir: URL
    public var folder: URL { runDir.appendingPathComponent("checkpoints") }
    public var latestPointer: URL { runDir.appendingPathComponent("latest") }

    public init(runDir: URL) { self.runDir = runDir }

    /// The folder `latest` points at, or nil when the run has no `latest`. Throws when `latest`
    /// is unreadable, names something outside `checkpoints/`, or a folder that is not a checkpoint.
    public func latest() throws -> URL? {
        guard FileManager.default.fileExists(atPath: latestPointer.path) else { return nil }
        let data: Data
        do { data = try MappedFile.read(latestPointer) } catch { throw TrainError.checkpoint("\(latestPointer.path): \(error)") }
        guard data.count <= 4096, let text = String(data: data, encoding: .utf8) else {
            throw TrainError.checkpoint("\(latestPointer.path) is garbage (\(data.count) bytes, not a checkpoint path)")
        }
        let rel = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = rel.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "checkpoints", Self.step(of: String(parts[1])) != nil else {
            throw TrainError.checkpoint("\(latestPointer.path) is garbage: \"\(rel.prefix(80))\" is not checkpoints/step-N")
        }
        let dir = runDir.appendingPathComponent(rel)
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("trainer_state.json").path) else {
            throw TrainError.checkpoint("\(latestPointer.path) points at \(rel), which is not a complete checkpoint")
        }
        return dir
    }

    /// Takes the run folder's exclusive lock (``RunLock``, creating the folder) for as long as the
    /// returned object lives: two runs never write one folder. The kernel releases it when the
    /// process ends, however it ends.
    ///
    /// - Throws: ``TrainError/io(_:)`` naming the holder's PID, host and purpose when another run
    ///   holds it.
    public func lock(purpose: String) throws -> RunLock {
        do { return try RunLock.acquire(folder: runDir, purpose: purpose) } catch SystemError.locked(_, let holder) {
            throw TrainError.io("\(runDir.path) is in use by \(holder): two runs cannot share a run folder; wait for it to finish, stop it, or choose another --output")
        } catch {
            throw TrainError.io("--output \(runDir.path): \(error)")
        }
    }

    /// The step of a checkpoint folder's name (`step-N`), or nil.
    static func step(of name: String) -> Int? {
        guard name.hasPrefix("step-"), let s = Int(name.dropFirst(5)), s >= 0, "step-\(s)" == name else { return nil }
        return s
    }

    /// The checkpoint folders (`step-N`), newest first.
    public func checkpointFolders() -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.compactMap { n in Self.step(of: n).map { ($0, folder.appendingPathComponent(n)) } }.sorted { $0.step > $1.step }
    }

    /// Whether the run folder holds any checkpoint or a `latest` pointer (even a broken one): a
    /// fresh run must not start there, or its rotation would delete them.
    public var hasCheckpoints: Bool {
        FileManager.default.fileExists(atPath: latestPointer.path) || !checkpointFolders().isEmpty
    }

    /// Writes `checkpoints/step-N` and points `latest` at it. `writeOptimizer`, given the folder
    /// being written, writes the optimizer moments instead of `optimizer` (a ZeRO-1 run's rank 0
    /// gathers every rank's shard there); by default `optimizer`'s own moments are written.
    ///
    /// - Throws: ``TrainError/nonFinite(_:)`` before anything is written when the weights or
    ///   (this process's) moments hold NaN or infinite values: nothing is saved or rotated.
    public func save(model: GLMModel, optimizer: AdamW, state: TrainerState, tokenizerFiles: [URL], keep: Int,
                     writeOptimizer: ((URL) throws -> Void)? = nil) throws {
        try CheckpointIntegrity.checkFinite(model.store, "not saving checkpoint step-\(state.step): the weights are not finite")
        try CheckpointIntegrity.checkMoments(optimizer, "not saving checkpoint step-\(state.step): the optimizer moments are not finite")
        let name = "step-\(state.step)"
        let dest = folder.appendingPathComponent(name)
        try AtomicFolder.replace(dest) { tmp in
            try model.write(into: tmp, tokenizerFiles: tokenizerFiles)
            if let writeOptimizer {
                try writeOptimizer(tmp)
            } else {
                try OptimizerCheckpoint.write(m: optimizer.m.floats, v: optimizer.v.floats, range: optimizer.shard,
                                              total: model.store.totalCount, step: optimizer.step, shard: 0, of: 1, into: tmp)
            }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(state).write(to: tmp.appendingPathComponent("trainer_state.json"))
            try CheckpointIntegrity.writeManifest(in: tmp)
        }
        try AtomicFolder.writeFile(Data("checkpoints/\(name)\n".utf8), to: latestPointer)
        try rotate(keep: keep, protect: state.step)
    }

    /// Removes half-written checkpoints (`.step-N.tmp-PID`, `.step-N.old-PID`) and pointer files
    /// that a killed run left behind; `latest` never pointed at them.
    public func removeStaleTemporaries() {
        let fm = FileManager.default
        for n in (try? fm.contentsOfDirectory(atPath: folder.path)) ?? [] where n.hasPrefix(".step-") {
            try? fm.removeItem(at: folder.appendingPathComponent(n))
        }
        for n in (try? fm.contentsOfDirectory(atPath: runDir.path)) ?? [] where n.hasPrefix(".latest.tmp-") {
            try? fm.removeItem(at: runDir.appendingPathComponent(n))
        }
    }

    /// Deletes the oldest checkpoints so that `keep` remain among those up to step `protect` (the
    /// one just written, never deleted). Checkpoints newer than `protect` (left by a run that fell
    /// back to an older one) are never touched.
    func rotate(keep: Int, protect: Int) throws {
        let older = checkpointFolders().filter { $0.step <= protect }
        for c in older.dropFirst(keep) where c.step != protect {
            try? FileManager.default.removeItem(at: c.url)
        }
    }

    /// Restores the newest intact checkpoint: `latest` first, then the `step-N` folders newest
    /// first. Each is verified (checksums, finite weights and moments, the state's numbers) before
    /// it is used. When `latest` is broken, `log` says what is wrong with it (the file and the
    /// fault) and which checkpoint the run resumes from instead; broken checkpoints newer than that
    /// one are renamed `step-N.corrupt` (kept for inspection, out of rotation) and `latest` is
    /// pointed at the one restored. Returns nil when the run folder holds no checkpoint at all.
    ///
    /// - Throws: ``TrainError/checkpoint(_:)`` listing every checkpoint and what is wrong with it
    ///   when none is intact; a different model shape fails at once (no older checkpoint fits better).
    public func restoreNewestIntact(model: GLMModel, optimizer: AdamW,
                                    log: (String) -> Void) throws -> (dir: URL, state: TrainerState)? {
        var rejected: [(name: String, reason: String)] = []
        var candidates: [URL] = []
        if FileManager.default.fileExists(atPath: latestPointer.path) {
            do {
                if let l = try latest() { candidates.append(l) }
            } catch { rejected.append(("latest", "\(error)")) }
        }
        for c in checkpointFolders() where !candidates.contains(where: { $0.lastPathComponent == c.url.lastPathComponent }) {
            candidates.append(c.url)
        }
        guard !candidates.isEmpty || !rejected.isEmpty else { return nil }
        for dir in candidates {
            let name = "checkpoints/\(dir.lastPathComponent)"
            do {
                let verified = try CheckpointIntegrity.verify(dir)
                if let mismatch = try shapeMismatch(dir, model) { throw Unresumable(error: mismatch) }
                let state = try restore(dir, model: model, optimizer: optimizer)
                if !verified { log("\(name) has no \(CheckpointIntegrity.manifestName) (written before checksums): loaded unverified") }
                if !rejected.isEmpty {
                    for r in rejected { log("\(r.name): \(r.reason)") }
                    log("resuming from the newest intact checkpoint, \(name) (step \(state.step))")
                    try setAside(newerThan: state.step, log: log)
                    try AtomicFolder.writeFile(Data("\(name)\n".utf8), to: latestPointer)
                }
                return (dir, state)
            } catch let e as Unresumable {
                throw e.error
            } catch {
                rejected.append((name, "\(error)"))
            }
        }
        throw TrainError.checkpoint("no intact checkpoint to resume in \(runDir.path):\n" + rejected.map { "  \($0.name): \($0.reason)" }.joined(separator: "\n"))
    }

    /// Renames the checkpoints newer than `step` (found broken) to `step-N.corrupt`.
    func setAside(newerThan step: Int, log: (String) -> Void) throws {
        let fm = FileManager.default
        for c in checkpointFolders() where c.step > step {
            var target = folder.appendingPathComponent("step-\(c.step).corrupt")
            var k = 1
            while fm.fileExists(atPath: target.path) { k += 1; target = folder.appendingPathComponent("step-\(c.step).corrupt-\(k)") }
            do { try fm.moveItem(at: c.url, to: target) } catch {
                throw TrainError.io("cannot set aside the broken checkpoint \(c.url.path): \(error.localizedDescription)")
            }
            log("kept the broken checkpoint as checkpoints/\(target.lastPathComponent) (out of rotation; delete it when done)")
        }
    }

    /// Loads weights, optimizer moments (the optimizer's shard, from either layout) and state
    /// from `dir` into `model` and `optimizer`, checking that the weights and moments are finite
    /// and the state's numbers in range. The checkpoint's model shape must equal the run's.
    public func restore(_ dir: URL, model: GLMModel, optimizer: AdamW) throws -> TrainerState {
        if let mismatch = try shapeMismatch(dir, model) { throw mismatch }
        let stateURL = dir.appendingPathComponent("trainer_state.json")
        let state: TrainerState
        do { state = try decodeJSON(TrainerState.self, from: MappedFile.read(stateURL)) } catch {
            throw TrainError.checkpoint("\(stateURL.path): \(describeDecodingError(error))")
        }
        try state.validate(source: stateURL.path)
        let weights = dir.appendingPathComponent("model.safetensors")
        do {
            try model.loadWeights(SafeTensors.read(weights), source: dir.path)
        } catch { throw TrainError.checkpoint("\(error)") }
        try CheckpointIntegrity.checkFinite(model.store, weights.path)
        try OptimizerCheckpoint.Reader(dir: dir, total: model.store.totalCount).restore(into: optimizer)  // checks them finite
        optimizer.restore(step: state.step)
        return state
    }
}

extension RunCheckpoints {
    /// The error of a checkpoint whose model shape differs from the run's (nil: same shape);
    /// throws when its `config.json` cannot be read.
    func shapeMismatch(_ dir: URL, _ model: GLMModel) throws -> TrainError? {
        let saved: GLMConfig
        do { saved = try GLMConfig.load(dir.appendingPathComponent("config.json")) } catch {
            throw TrainError.checkpoint("\(dir.path): \(error)")
        }
        var a = saved, b = model.config
        a.embeddingDropoutProb = 0; a.attentionDropoutProb = 0; a.outputDropoutProb = 0
        b.embeddingDropoutProb = 0; b.attentionDropoutProb = 0; b.outputDropoutProb = 0
        guard a != b else { return nil }
        return TrainError.checkpoint("\(dir.path) holds a different model shape (\(saved.numLayers) layers, hidden \(saved.hiddenSize), vocab \(saved.vocabSize)) than this run (\(b.numLayers) layers, hidden \(b.hiddenSize), vocab \(b.vocabSize))")
    }
}

/// A checkpoint no fallback can help with (another model shape): stops the search.
private struct Unresumable: Error { let error: TrainError }
