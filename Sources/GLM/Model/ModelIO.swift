import Foundation
import GLMNN
import GLMTensor

extension GLMModel {
    /// Loads a model from a Hugging Face shaped folder (`config.json` + `model.safetensors` or
    /// `pytorch_model.bin`), an official checkpoint folder (`latest_checkpointed_iteration.txt` +
    /// `<tag>/mp_rank_0N_model_states.pt`, with `config.json` beside it or `config` given), or a
    /// single checkpoint file with `config` given or a `config.json` next to it.
    public static func load(_ url: URL, config: GLMConfig? = nil) throws -> GLMModel {
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
        let model = try GLMModel(config: cfg)
        let tensors: [String: TensorData]
        do { tensors = try CheckpointLoader.load(url) } catch { throw GLMError.checkpoint("\(error)") }
        try model.loadWeights(tensors, source: url.path)
        return model
    }

    /// Copies `tensors` (official keys, any float dtype) into the parameters.
    ///
    /// Missing, unexpected and misshaped keys are all reported in one error. Position tables with
    /// fewer rows than P+1 keep their freshly initialised rows beyond the checkpoint's, as the
    /// official `load_pretrained` does (docs/official-glm.md §2).
    public func loadWeights(_ tensors: [String: TensorData], source: String = "checkpoint") throws {
        var missing: [String] = [], misshaped: [String] = []
        let known = Set(store.parameters.map(\.name))
        let unexpected = tensors.keys.filter { !known.contains($0) }.sorted()
        for p in store.parameters {
            guard let t = tensors[p.name] else { missing.append(p.name); continue }
            if t.shape == p.shape { continue }
            let isPositionTable = p.name.hasSuffix("position_embeddings.weight")
            if isPositionTable, t.shape.count == 2, t.shape[1] == p.shape[1], t.shape[0] < p.shape[0] { continue }
            misshaped.append("\(p.name): checkpoint \(t.shape), model \(p.shape)")
        }
        guard missing.isEmpty, unexpected.isEmpty, misshaped.isEmpty else {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing keys: " + missing.joined(separator: ", ")) }
            if !unexpected.isEmpty { parts.append("unexpected keys: " + unexpected.joined(separator: ", ")) }
            if !misshaped.isEmpty { parts.append("misshaped keys: " + misshaped.joined(separator: "; ")) }
            throw GLMError.checkpoint("\(source) does not fit this model (\(config.numLayers) layers, hidden \(config.hiddenSize), vocab \(config.vocabSize)): " + parts.joined(separator: "; "))
        }
        for p in store.parameters {
            let t = tensors[p.name]!
            let values = t.floats()
            values.withUnsafeBufferPointer { p.value.floats.update(from: $0.baseAddress!, count: values.count) }
        }
        if bf16 { store.refreshBF16() }
    }

    /// The parameters as f32 tensors keyed by official names (for saving).
    public func stateDict() -> [String: TensorData] {
        var out: [String: TensorData] = [:]
        for p in store.parameters {
            out[p.name] = TensorData(dtype: .f32, shape: p.shape,
                                     floats: Array(UnsafeBufferPointer(start: p.value.floats, count: p.count)))
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

    /// Writes `data` to `url` through a temporary file, fsync and a rename (`AtomicFile` in GLMNN).
    public static func writeFile(_ data: Data, to url: URL) throws {
        try AtomicFile.write(data, to: url)
    }
}
