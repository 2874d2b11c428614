/// Why a checkpoint could not be read, written or matched to a model.
///
/// Every case names the file it is about (`file` is a path), because a loader is usually handed a
/// folder and the user needs to know which of its files is at fault.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The path does not exist.
    case fileNotFound(file: String)
    /// The operating system refused an operation (open, mmap, write, rename); `detail` has errno's text.
    case io(file: String, detail: String)
    /// The file ends before the structure it declares does (a cut-off download or copy).
    case truncated(file: String, detail: String)
    /// A header or directory is malformed (bad JSON, impossible offsets, missing zip records…).
    case corruptHeader(file: String, detail: String)
    /// A tensor's element type is not one the reader can represent (f32, f16, bf16, i32, or a lossless conversion).
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// A pickle names a callable outside the allow-list (for example `os.system`). Nothing was executed.
    case forbiddenGlobal(String, file: String)
    /// A pickle uses an opcode or a construct this reader does not implement.
    case unsupportedPickle(file: String, detail: String)
    /// A zip entry is compressed or encrypted; `torch.save` always stores entries uncompressed.
    case compressedEntry(file: String, entry: String, method: Int)
    /// Keys a sharded checkpoint's index names that its shards lack.
    case missingKeys([String], file: String)
    /// A state dict that does not fit a model: keys it needs that the checkpoint lacks, keys
    /// whose shape differs (`key: expected …, found …`), and keys the model does not know.
    case keyMismatch(missing: [String], misshaped: [String], unexpected: [String], file: String)
    /// Two keys became the same name once `glm.`/`module.`/`model.` prefixes were stripped.
    case duplicateKeys([String], file: String)
    /// A folder holds nothing this loader recognises as a checkpoint.
    case noCheckpoint(folder: String, detail: String)
    /// Model-parallel rank files that cannot be merged (missing rank, mismatched keys or shapes).
    case inconsistentShards(file: String, detail: String)
    /// A tensor (or a merge of tensors) would need more memory than is available or than sizes allow.
    case tooLarge(file: String, detail: String)

    public var description: String {
        switch self {
        case .fileNotFound(let f): return "\(f): no such file or folder"
        case .io(let f, let d): return "\(f): \(d)"
        case .truncated(let f, let d): return "\(f): file is truncated (\(d))"
        case .corruptHeader(let f, let d): return "\(f): corrupt header (\(d))"
        case .unsupportedDType(let f, let t, let d): return "\(f): tensor '\(t)' has unsupported dtype \(d)"
        case .forbiddenGlobal(let g, let f):
            return "\(f): refusing to load: the pickle references '\(g)', which is not an allowed tensor-rebuilding global (nothing was executed)"
        case .unsupportedPickle(let f, let d): return "\(f): unsupported pickle content (\(d))"
        case .compressedEntry(let f, let e, let m):
            return "\(f): zip entry '\(e)' is compressed or encrypted (method \(m)); torch.save writes stored entries only"
        case .missingKeys(let k, let f): return "\(f): missing keys: \(k.joined(separator: ", "))"
        case let .keyMismatch(missing, misshaped, unexpected, f):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing keys: " + missing.joined(separator: ", ")) }
            if !misshaped.isEmpty { parts.append("keys with the wrong shape: " + misshaped.joined(separator: "; ")) }
            if !unexpected.isEmpty { parts.append("unexpected keys: " + unexpected.joined(separator: ", ")) }
            return "\(f): does not fit the model: " + parts.joined(separator: "; ")
        case .duplicateKeys(let k, let f): return "\(f): keys collide after prefix stripping: \(k.joined(separator: ", "))"
        case .noCheckpoint(let f, let d): return "\(f): no checkpoint found (\(d))"
        case .inconsistentShards(let f, let d): return "\(f): model-parallel shards do not merge (\(d))"
        case .tooLarge(let f, let d): return "\(f): too large (\(d))"
        }
    }
}
