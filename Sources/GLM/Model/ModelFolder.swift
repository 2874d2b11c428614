import Foundation
import GLMSystem

/// Where a model given on the command line lives, and what may be replaced by a model written with
/// ``GLMModel/save(to:tokenizerFiles:)``.
public enum ModelFolder {
    /// The model at `path` (a folder, or a weights file inside one) and the folder holding its
    /// config and tokenizer files; a path that does not exist is a ``GLMError/io(_:_:)`` naming it.
    public static func locate(_ path: String) throws -> (model: URL, folder: URL) {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw GLMError.io(path, "no such model folder")
        }
        return (url, isDir.boolValue ? url : url.deletingLastPathComponent())
    }

    /// Files that make a folder a model folder (Hugging Face or official layout).
    public static let markers = ["config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                                 "pytorch_model.bin.index.json", "latest_checkpointed_iteration.txt", "latest"]

    /// Throws unless `folder` may be replaced by a new model folder: it does not exist, is empty, or
    /// holds one of ``markers``. Anything else — a file, a folder of other things — is refused
    /// unless `force`, so a mistyped `--output` cannot delete someone's work. The root folder, the
    /// working folder and the folders holding it are refused even with `force`.
    public static func checkReplaceable(_ folder: URL, force: Bool) throws {
        let standard = folder.standardizedFileURL
        do { try AtomicFolder.checkReplaceable(standard.resolvingSymlinksInPath(), shown: folder.path) } catch let e as SystemError {
            throw GLMError.io(folder.path, e.reason)
        }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: standard.path, isDirectory: &isDir), !force else { return }
        guard isDir.boolValue else {
            throw GLMError.io(folder.path, "is a file, not a model folder; refusing to replace it (pass --force to replace it anyway)")
        }
        let names = (try? fm.contentsOfDirectory(atPath: standard.path)) ?? []
        if names.isEmpty || names.contains(where: markers.contains) { return }
        let shown = names.sorted().prefix(3).joined(separator: ", ") + (names.count > 3 ? ", …" : "")
        throw GLMError.io(folder.path, "holds \(shown) but no model (no config.json or weights); refusing to replace it (pass --force to replace it anyway)")
    }
}
