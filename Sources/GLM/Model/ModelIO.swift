import Foundation
import GLMNN
import GLMTensor

extension GLMModel {
    /// Loads a model from a Hugging Face shaped folder (`config.json` + `model.safetensors` or
    /// `pytorch_model.bin`), an official checkpoint folder (`latest_checkpointed_iteration.txt` +
    /// `<tag>/mp_rank_0N_model_states.pt`, with `config.json` beside it or `config` given), or a
    /// single checkpoint file with `config` given or a `config.json` next to it. `seed` seeds the
    /// dropout stream (and the rows of a position table longer than the checkpoint's).
    public static func load(_ url: URL, config: GLMConfig? = nil, seed: UInt64 = 1234) throws -> GLMModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw GLMError.io(url.path, "no such file or folder")
        }
        let folder = isDir.boolValue ? url : url.deletingLastPathComponent()
        let cfg: GLMConfig
        if let config { cfg = config } else {
            let c = folder.appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: c.path) else {
                throw GLMError.io(c.path, "missing config.json (needed to know the model shape; pass --preset or add one)")
            }
            cfg = try GLMConfig.load(c)
        }
        let model = try GLMModel(config: cfg, seed: seed, initialise: false)
        let tensors: [String: TensorData]
        do { tensors = try CheckpointLoader.load(url, split: GLMParameters.split(for:)) } catch { throw GLMError.checkpoint("\(error)") }
        try model.loadWeights(tensors, source: url.path)
        return model
    }

    /// Copies `tensors` (official keys, any float dtype) into the parameters.
    ///
    /// Missing, unexpected and misshaped keys are all reported in one error
    /// (``CheckpointLoader/verify(_:expected:source:extendableRows:allowUnexpected:)``). Position
    /// tables with fewer rows than P+1 get their initial values in the rows beyond the
    /// checkpoint's, as the official `load_pretrained` does (docs/official-glm.md §2).
    public func loadWeights(_ tensors: [String: TensorData], source: String = "checkpoint") throws {
        let expected = Dictionary(uniqueKeysWithValues: parameterTable.map { ($0.name, $0.shape) })
        let extendable = Set(parameterTable.filter(\.extendableRows).map(\.name))
        do {
            try CheckpointLoader.verify(tensors, expected: expected, source: source, extendableRows: extendable)
        } catch {
            throw GLMError.checkpoint("\(error) (model: \(config.numLayers) layers, hidden \(config.hiddenSize), vocab \(config.vocabSize))")
        }
        for (i, p) in store.parameters.enumerated() {
            let t = tensors[p.name]!
            let values = t.floats()
            try p.value.reshaped([p.count]).slice(0, 0..<values.count).assign(values)
            if values.count < p.count { initialiseRows(i, from: t.shape[0]) }
        }
        if bf16 { store.refreshBF16() }
    }

    /// The parameters as f32 tensors keyed by official names (for saving).
    public func stateDict() -> [String: TensorData] {
        var out: [String: TensorData] = [:]
        for p in store.parameters {
            out[p.name] = TensorData(dtype: .f32, shape: p.shape, floats: p.value.toArray())
        }
        return out
    }

    /// Writes `config.json`, `model.safetensors` (official keys, no prefix, f32) and copies of
    /// `tokenizerFiles` into the existing folder `dir` (no atomicity: see ``save(to:tokenizerFiles:)``).
    public func write(into dir: URL, tokenizerFiles: [URL] = []) throws {
        let fm = FileManager.default
        try config.jsonData().write(to: dir.appendingPathComponent("config.json"))
        try SafeTensors.write(stateDict(), to: dir.appendingPathComponent("model.safetensors"), metadata: ["format": "pt"])
        for f in tokenizerFiles {
            let dst = dir.appendingPathComponent(f.lastPathComponent)
            try? fm.removeItem(at: dst)
            try fm.copyItem(at: f, to: dst)
        }
    }

    /// Writes a Hugging Face shaped folder: `config.json`, `model.safetensors` and copies of
    /// `tokenizerFiles`. Everything goes into a temporary sibling folder which then replaces
    /// `folder`, so a crash leaves either the old folder or the new one, never a mix.
    public func save(to folder: URL, tokenizerFiles: [URL] = []) throws {
        try AtomicFolder.replace(folder) { tmp in try write(into: tmp, tokenizerFiles: tokenizerFiles) }
    }
}

/// Builds a folder under a temporary name next to its destination, then renames it into place.
public enum AtomicFolder {
    public static func replace(_ folder: URL, _ fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = folder.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let tmp = parent.appendingPathComponent(".\(folder.lastPathComponent).tmp-\(getpid())")
        try? fm.removeItem(at: tmp)
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        do { try fill(tmp) } catch { try? fm.removeItem(at: tmp); throw error }
        if fm.fileExists(atPath: folder.path) {
            let old = parent.appendingPathComponent(".\(folder.lastPathComponent).old-\(getpid())")
            try? fm.removeItem(at: old)
            try fm.moveItem(at: folder, to: old)
            try fm.moveItem(at: tmp, to: folder)
            try? fm.removeItem(at: old)
        } else {
            try fm.moveItem(at: tmp, to: folder)
        }
    }

    /// Writes `data` to `url` through a temporary file, fsync and a rename (``AtomicFile``).
    public static func writeFile(_ data: Data, to url: URL) throws {
        try AtomicFile.write(data, to: url)
    }
}
