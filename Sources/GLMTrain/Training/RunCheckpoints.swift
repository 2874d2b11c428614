import Foundation
import GLM
import GLMNN
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
/// see ``OptimizerCheckpoint`` — and `trainer_state.json`) and `latest`, the pointer written last.
///
/// Each checkpoint is written under a temporary name and renamed into place, then `latest` is
/// replaced by rename, so a crash at any moment leaves the previous checkpoint as `latest`.
public struct RunCheckpoints {
    public let runDir: URL
    public var folder: URL { runDir.appendingPathComponent("checkpoints") }
    public var latestPointer: URL { runDir.appendingPathComponent("latest") }

    public init(runDir: URL) { self.runDir = runDir }

    /// The folder `latest` points at, or nil when the run has no checkpoint.
    public func latest() throws -> URL? {
        guard let text = try? String(contentsOf: latestPointer, encoding: .utf8) else { return nil }
        let rel = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let dir = runDir.appendingPathComponent(rel)
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("trainer_state.json").path) else {
            throw TrainError.checkpoint("\(latestPointer.path) points at \(rel), which is not a complete checkpoint")
        }
        return dir
    }

    /// Writes `checkpoints/step-N` and points `latest` at it. `writeOptimizer`, given the folder
    /// being written, writes the optimizer moments instead of `optimizer` (a ZeRO-1 run's rank 0
    /// gathers every rank's shard there); by default `optimizer`'s own moments are written.
    public func save(model: GLMModel, optimizer: AdamW, state: TrainerState, tokenizerFiles: [URL], keep: Int,
                     writeOptimizer: ((URL) throws -> Void)? = nil) throws {
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
        }
        try AtomicFolder.writeFile(Data("checkpoints/\(name)\n".utf8), to: latestPointer)
        try rotate(keep: keep, protect: name)
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

    /// Deletes all but the newest `keep` checkpoints (never `protect`, the one just written).
    func rotate(keep: Int, protect: String) throws {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: folder.path)) ?? []
        let steps = names.compactMap { n -> (Int, String)? in
            guard n.hasPrefix("step-"), let s = Int(n.dropFirst(5)) else { return nil }
            return (s, n)
        }.sorted { $0.0 > $1.0 }
        for (_, n) in steps.dropFirst(keep) where n != protect {
            try? fm.removeItem(at: folder.appendingPathComponent(n))
        }
    }

    /// Loads weights, optimizer moments (the optimizer's shard, from either layout) and state
    /// from `dir` into `model` and `optimizer`. The checkpoint's model shape must equal the run's.
    public func restore(_ dir: URL, model: GLMModel, optimizer: AdamW) throws -> TrainerState {
        let saved: GLMConfig
        do { saved = try GLMConfig.load(dir.appendingPathComponent("config.json")) } catch {
            throw TrainError.checkpoint("\(dir.path): \(error)")
        }
        var a = saved, b = model.config
        a.embeddingDropoutProb = 0; a.attentionDropoutProb = 0; a.outputDropoutProb = 0
        b.embeddingDropoutProb = 0; b.attentionDropoutProb = 0; b.outputDropoutProb = 0
        guard a == b else {
            throw TrainError.checkpoint("\(dir.path) holds a different model shape (\(saved.numLayers) layers, hidden \(saved.hiddenSize), vocab \(saved.vocabSize)) than this run (\(b.numLayers) layers, hidden \(b.hiddenSize), vocab \(b.vocabSize))")
        }
        do {
            try model.loadWeights(SafeTensors.read(dir.appendingPathComponent("model.safetensors")), source: dir.path)
        } catch { throw TrainError.checkpoint("\(error)") }
        try OptimizerCheckpoint.Reader(dir: dir, total: model.store.totalCount).restore(into: optimizer)
        let state: TrainerState
        do {
            state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: dir.appendingPathComponent("trainer_state.json")))
        } catch { throw TrainError.checkpoint("\(dir.path)/trainer_state.json: \(error)") }
        optimizer.restore(step: state.step)
        return state
    }
}
