import Foundation
import GLMSystem
import GLMTensor

/// How official model-parallel checkpoints split a tensor across ranks, and so how their parts
/// are put back together (the inverse of the official `change_mp.py`; docs/official-glm.md §8.1).
public enum ShardSplit: Sendable, Equatable {
    /// Every rank holds the whole tensor; one copy is kept.
    case replicated
    /// Ranks hold consecutive blocks of rows (the first dimension): concatenate rows.
    case rows
    /// Ranks hold consecutive blocks of columns of a 2-D weight: concatenate columns.
    case columns
    /// Each rank's rows are `parts` equal blocks (the fused Q, K, V projection: rank r holds
    /// [Q_r; K_r; V_r]): concatenate every rank's first block, then every rank's second, ….
    case interleavedRows(Int)
}

/// Finds and reads a checkpoint in any of the layouts GLM weights are shipped in, and returns
/// one state dict under the official key names (docs/official-glm.md §1.1, §8).
public enum CheckpointLoader {
    /// Loads a state dict from a file or a folder.
    ///
    /// A file is read by its format (sniffed, not trusted from the extension): safetensors, or a
    /// `torch.save` archive (`.bin`, `.pt`, zip or legacy). A folder is searched in this order:
    /// 1. `model.safetensors`, or the shards listed by `model.safetensors.index.json`;
    /// 2. `pytorch_model.bin`, or the shards listed by `pytorch_model.bin.index.json`;
    /// 3. the official layout: `latest_checkpointed_iteration.txt` (or DeepSpeed's `latest`) names
    ///    a tag folder holding `mp_rank_00_model_states.pt` (and `_01`, … for model parallelism,
    ///    merged per docs/official-glm.md §8.1); without a tracker file, the folder itself is taken as the tag folder.
    ///
    /// Keys are normalised: leading `glm.` (Hugging Face wrapper), `module.` (DataParallel,
    /// DeepSpeed) and `model.` (classification wrappers) prefixes are stripped, repeatedly.
    ///
    /// `split` says how each key was split across model-parallel ranks (the model's own rule,
    /// e.g. `GLMParameters.split(for:)`); it is used only for folders with several ranks.
    ///
    /// - Throws: ``CheckpointError`` — `noCheckpoint` for a folder with none of the above,
    ///   `duplicateKeys` when stripping makes two keys equal, `inconsistentShards` for MP ranks that
    ///   do not merge, and any reader error, naming the file.
    public static func load(_ url: URL, split: (String) -> ShardSplit = { _ in .replicated }) throws -> [String: TensorData] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw CheckpointError.fileNotFound(file: url.path)
        }
        if !isDir.boolValue { return try normalise(readFile(url), file: url.path) }

        let fm = FileManager.default
        func has(_ name: String) -> Bool { fm.fileExists(atPath: url.appendingPathComponent(name).path) }
        for (single, index) in [("model.safetensors", "model.safetensors.index.json"),
                                ("pytorch_model.bin", "pytorch_model.bin.index.json")] {
            if has(single) { return try normalise(readFile(url.appendingPathComponent(single)), file: url.appendingPathComponent(single).path) }
            if has(index) { return try normalise(readSharded(url.appendingPathComponent(index)), file: url.appendingPathComponent(index).path) }
        }
        var tagFolder = url
        // GLM's own tracker, or DeepSpeed's `latest` (same content: the tag folder's name).
        let trackerName = has("latest_checkpointed_iteration.txt") ? "latest_checkpointed_iteration.txt" : "latest"
        let tracker = url.appendingPathComponent(trackerName)
        if has(trackerName) {
            guard let data = try? MappedFile.read(tracker), let text = String(data: data, encoding: .utf8) else {
                throw CheckpointError.io(file: tracker.path, detail: "cannot read the tracker file as UTF-8 text")
            }
            let tag = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !tag.isEmpty, !tag.contains("/") else {
                throw CheckpointError.corruptHeader(file: tracker.path, detail: "tag '\(tag)' is not a folder name")
            }
            tagFolder = url.appendingPathComponent(tag)
        }
        var ranks: [URL] = []
        while true {
            let f = tagFolder.appendingPathComponent(String(format: "mp_rank_%02d_model_states.pt", ranks.count))
            guard fm.fileExists(atPath: f.path) else { break }
            ranks.append(f)
        }
        guard !ranks.isEmpty else {
            throw CheckpointError.noCheckpoint(folder: url.path, detail: "looked for model.safetensors, pytorch_model.bin, their .index.json, and "
                + "\(tagFolder.lastPathComponent == url.lastPathComponent ? "" : tagFolder.lastPathComponent + "/")mp_rank_00_model_states.pt")
        }
        let parts = try ranks.map { try normalise(PyTorchCheckpoint.read($0), file: $0.path) }
        if parts.count == 1 { return parts[0] }
        return try mergeModelParallel(parts, file: tagFolder.path, split: split)
    }

    /// Strips one leading wrapper prefix (`glm.`, `module.`, `model.`) at a time until none is left.
    public static func normalisedKey(_ key: String) -> String {
        var k = Substring(key)
        while true {
            guard let p = ["glm.", "module.", "model."].first(where: { k.hasPrefix($0) }) else { return String(k) }
            k = k.dropFirst(p.count)
        }
    }

    /// Checks a state dict against the names and shapes a model expects: the one key check of
    /// the project, reporting every missing, misshaped and unexpected key in one error.
    ///
    /// - Parameters:
    ///   - expected: every parameter the model needs, with its shape.
    ///   - extendableRows: keys that may hold fewer rows than expected (same trailing dimensions);
    ///     the caller keeps its own values for the rest.
    ///   - allowUnexpected: accept extra keys (the official loader uses `strict=False`).
    ///   - source: the file or folder the tensors came from, for the error message.
    /// - Throws: ``CheckpointError/keyMismatch(missing:misshaped:unexpected:file:)``, each list sorted.
    public static func verify(_ tensors: [String: TensorData], expected: [String: [Int]], source: String,
                              extendableRows: Set<String> = [], allowUnexpected: Bool = false) throws {
        let missing = expected.keys.filter { tensors[$0] == nil }.sorted()
        let misshaped = expected.compactMap { k, shape -> String? in
            guard let found = tensors[k]?.shape, found != shape else { return nil }
            if extendableRows.contains(k), found.count == shape.count, found.count >= 1,
               found.dropFirst() == shape.dropFirst(), found[0] <= shape[0] { return nil }
            return "\(k): expected \(shape), found \(found)"
        }.sorted()
        let unexpected = allowUnexpected ? [] : tensors.keys.filter { expected[$0] == nil }.sorted()
        if !missing.isEmpty || !misshaped.isEmpty || !unexpected.isEmpty {
            throw CheckpointError.keyMismatch(missing: missing, misshaped: misshaped, unexpected: unexpected, file: source)
        }
    }

    /// Merges model-parallel rank state dicts into one (docs/official-glm.md §8.1, the inverse of
    /// the official `change_mp.py` split), each key as `split` says. A replicated key must have
    /// the same shape on every rank: a key split by a rule the caller does not know would
    /// otherwise be silently truncated.
    public static func mergeModelParallel(_ ranks: [[String: TensorData]], file: String,
                                          split: (String) -> ShardSplit) throws -> [String: TensorData] {
        guard let first = ranks.first else { throw CheckpointError.inconsistentShards(file: file, detail: "no ranks") }
        for (r, part) in ranks.enumerated() where Set(part.keys) != Set(first.keys) {
            let diff = Set(part.keys).symmetricDifference(first.keys).sorted()
            throw CheckpointError.inconsistentShards(file: file, detail: "rank \(r) and rank 0 differ in keys: \(diff.joined(separator: ", "))")
        }
        var out: [String: TensorData] = [:]
        for key in first.keys.sorted() {
            let parts = ranks.map { $0[key]! }
            guard parts.allSatisfy({ $0.dtype == parts[0].dtype }) else {
                throw CheckpointError.inconsistentShards(file: file, detail: "'\(key)' has different dtypes across ranks")
            }
            switch split(key) {
            case .rows:
                out[key] = try concatRows(parts, key: key, file: file)
            case let .interleavedRows(n):
                // Split each rank's rows into its n blocks, then stack block 0 of every rank, block 1, ….
                var blocks = [[TensorData]](repeating: [], count: n)
                for p in parts {
                    guard let rows = p.shape.first, n > 0, rows % n == 0 else {
                        throw CheckpointError.inconsistentShards(file: file, detail: "'\(key)' has \(p.shape.first ?? 0) rows, not a multiple of \(n)")
                    }
                    let chunks = splitRows(p, into: n)
                    for i in 0..<n { blocks[i].append(chunks[i]) }
                }
                out[key] = try concatRows(blocks.flatMap { $0 }, key: key, file: file)
            case .columns:
                out[key] = try concatColumns(parts, key: key, file: file)
            case .replicated:
                guard parts.allSatisfy({ $0.shape == parts[0].shape }) else {
                    throw CheckpointError.inconsistentShards(file: file, detail: "'\(key)' is not a known split parameter but its shapes differ across ranks: \(parts.map(\.shape))")
                }
                out[key] = parts[0]
            }
        }
        return out
    }

    // MARK: helpers

    static func readFile(_ url: URL) throws -> [String: TensorData] {
        if url.pathExtension == "safetensors" { return try SafeTensors.read(url) }
        let file = try MappedFile.checkpoint(url)
        let b = file.bytes
        if ZipArchive.looksLikeZip(file) || (file.count > 0 && b[0] == 0x80) { return try PyTorchCheckpoint.read(url) }
        if file.count > 8, b[8] == UInt8(ascii: "{") { return try SafeTensors.read(url) }
        throw CheckpointError.corruptHeader(file: url.path, detail: "neither safetensors nor a torch.save archive")
    }

    /// Reads Hugging Face sharded checkpoints: `{"weight_map": {key: shard file}}`.
    static func readSharded(_ index: URL) throws -> [String: TensorData] {
        guard let data = try? MappedFile.read(index),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = json["weight_map"] as? [String: String] else {
            throw CheckpointError.corruptHeader(file: index.path, detail: "no weight_map object")
        }
        let folder = index.deletingLastPathComponent()
        var out: [String: TensorData] = [:]
        for shard in Set(map.values).sorted() {
            guard !shard.contains("/") else {
                throw CheckpointError.corruptHeader(file: index.path, detail: "shard name '\(shard)' leaves the folder")
            }
            let tensors = try readFile(folder.appendingPathComponent(shard))
            for (k, v) in tensors where map[k] == shard { out[k] = v }
        }
        let missing = map.keys.filter { out[$0] == nil }.sorted()
        if !missing.isEmpty { throw CheckpointError.missingKeys(missing, file: index.path) }
        return out
    }

    static func normalise(_ tensors: [String: TensorData], file: String) throws -> [String: TensorData] {
        var out: [String: TensorData] = [:]
        var origin: [String: String] = [:]
        var clashes: [String] = []
        for key in tensors.keys.sorted() {
            let k = normalisedKey(key)
            if let other = origin[k] { clashes.append("\(other) / \(key) → \(k)"); continue }
            origin[k] = key
            out[k] = tensors[key]
        }
        if !clashes.isEmpty { throw CheckpointError.duplicateKeys(clashes, file: file) }
        return out
    }

    /// The shape and byte size of a merged tensor, refused when the shape overflows or the bytes
    /// exceed the memory available (rank files can declare shapes like `[2^62, 0]`).
    static func mergedSize(_ shape: [Int], dtype: DType, key: String, file: String) throws -> Int {
        guard let n = TensorData.elementCount(shape), let bytes = CheckedSize.product([n, dtype.size]) else {
            throw CheckpointError.inconsistentShards(file: file, detail: "'\(key)' merges to shape \(shape), which has more elements than an Int holds")
        }
        let limit = SystemMemory.available()
        guard bytes <= limit else {
            throw CheckpointError.tooLarge(file: file, detail: "merging '\(key)' to shape \(shape) needs \(formatBytes(bytes)); \(formatBytes(limit)) of memory is available")
        }
        return bytes
    }

    static func concatRows(_ parts: [TensorData], key: String, file: String) throws -> TensorData {
        let rest = Array(parts[0].shape.dropFirst())
        guard !parts[0].shape.isEmpty, parts.allSatisfy({ !$0.shape.isEmpty && Array($0.shape.dropFirst()) == rest }) else {
            throw CheckpointError.inconsistentShards(file: file, detail: "'\(key)' cannot concatenate rows of \(parts.map(\.shape))")
        }
        guard let rows = CheckedSize.sum(parts.map { $0.shape[0] }) else {
            throw CheckpointError.inconsistentShards(file: file, detail: "'\(key)' row counts \(parts.map { $0.shape[0] }) overflow")
        }
        let total = try mergedSize([rows] + rest, dtype: parts[0].dtype, key: key, file: file)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        for p in parts { p.withUnsafeBytes { bytes.append(contentsOf: $0) } }
        return TensorData(dtype: parts[0].dtype, shape: [rows] + rest, owned: bytes)
    }

    static func concatColumns(_ parts: [TensorData], key: String, file: String) throws -> TensorData {
        guard parts.allSatisfy({ $0.shape.count == 2 && $0.shape[0] == parts[0].shape[0] }) else {
            throw CheckpointError.inconsistentShards(file: file, detail: "'\(key)' cannot concatenate columns of \(parts.map(\.shape))")
        }
        let rows = parts[0].shape[0], es = parts[0].dtype.size
        guard let cols = CheckedSize.sum(parts.map { $0.shape[1] }) else {
            throw CheckpointError.inconsistentShards(file: file, detail: "'\(key)' column counts \(parts.map { $0.shape[1] }) overflow")
        }
        var bytes = [UInt8](repeating: 0, count: try mergedSize([rows, cols], dtype: parts[0].dtype, key: key, file: file))
        bytes.withUnsafeMutableBytes { dst in
            var col = 0
            for p in parts {
                let w = p.shape[1] * es
                p.withUnsafeBytes { src in
                    for r in 0..<rows where w > 0 {
                        (dst.baseAddress! + (r * cols * es + col)).copyMemory(from: src.baseAddress! + r * w, byteCount: w)
                    }
                }
                col += w
            }
        }
        return TensorData(dtype: parts[0].dtype, shape: [rows, cols], owned: bytes)
    }

    static func splitRows(_ t: TensorData, into n: Int) -> [TensorData] {
        let rows = t.shape[0] / n
        let rest = Array(t.shape.dropFirst())
        let chunk = t.byteCount / n
        return t.withUnsafeBytes { raw in
            (0..<n).map { i in
                TensorData(dtype: t.dtype, shape: [rows] + rest, owned: [UInt8](raw[(i * chunk)..<((i + 1) * chunk)]))
            }
        }
    }
}
