#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Builds a folder under a hidden temporary name next to its destination, then puts it in place
/// without ever losing the old one.
///
/// The replacement step: everything written by `fill` is fsync'ed; then, on Linux, the new and the
/// old folder swap names in one `renameat2(RENAME_EXCHANGE)` (there is no moment without a folder
/// under the final name) and the old one is deleted. Where the file system cannot exchange, the old
/// folder is renamed aside (`.<name>.old-…`), the new one renamed in, and only then is the old one
/// deleted; if the second rename fails the old folder is renamed back. The parent folder is fsync'ed
/// after the names change. A failing `fill` leaves the destination untouched and no temporary folder.
///
/// The root folder, the working folder and any folder holding it are refused: replacing them is
/// never what a command line meant (`--output /`, `--output .`).
public enum AtomicFolder {
    /// How the new folder takes the old one's place.
    public enum Strategy: Sendable {
        /// One `renameat2(RENAME_EXCHANGE)` where the system has it, else ``renameAside``.
        case exchange
        /// Old folder renamed aside, new one renamed in, old one deleted (restored on failure).
        case renameAside
    }

    /// Replaces (or creates) `folder` with what `fill` writes into the temporary folder it is given.
    ///
    /// - Parameter strategy: ``Strategy/exchange`` (the default) or the portable fallback.
    /// - Throws: ``SystemError/refusedPath(path:reason:)`` for `/`, the working folder or one of its
    ///   ancestors; ``SystemError`` for file-system failures; and whatever `fill` throws.
    public static func replace(_ folder: URL, strategy: Strategy = .exchange, _ fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let standard = folder.standardizedFileURL
        try checkReplaceable(standard.resolvingSymlinksInPath(), shown: folder.path)
        // The parent's links are resolved; a link at the final name itself is replaced, not followed.
        let name = standard.lastPathComponent
        let parent = standard.deletingLastPathComponent().resolvingSymlinksInPath()
        let target = parent.appendingPathComponent(name)
        do { try fm.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw SystemError.io(path: parent.path, operation: "create folder", reason: error.localizedDescription)
        }
        let tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let tmp = parent.appendingPathComponent(".\(name).tmp-\(tag)")
        do { try fm.createDirectory(at: tmp, withIntermediateDirectories: false) } catch {
            throw SystemError.io(path: tmp.path, operation: "create folder", reason: error.localizedDescription)
        }
        do {
            try fill(tmp)
            try Posix.fsyncTree(tmp.path)
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
        var st = stat()
        if lstat(target.path, &st) != 0 {
            guard rename(tmp.path, target.path) == 0 else {
                let e = SystemError.io(path: target.path, operation: "rename from \(tmp.path)", reason: Posix.errorText())
                try? fm.removeItem(at: tmp)
                throw e
            }
            try Posix.fsyncFolder(parent.path)
            return
        }
        let swapped: Bool
        do { swapped = strategy == .exchange ? try Posix.exchange(tmp.path, target.path) : false } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
        if swapped {
            // `tmp` now holds the old folder.
            try Posix.fsyncFolder(parent.path)
            try? fm.removeItem(at: tmp)
            return
        }
        let old = parent.appendingPathComponent(".\(name).old-\(tag)")
        guard rename(target.path, old.path) == 0 else {
            let e = SystemError.io(path: target.path, operation: "rename aside to \(old.path)", reason: Posix.errorText())
            try? fm.removeItem(at: tmp)
            throw e
        }
        guard rename(tmp.path, target.path) == 0 else {
            let e = SystemError.io(path: target.path, operation: "rename from \(tmp.path)", reason: Posix.errorText())
            _ = rename(old.path, target.path)  // put the old folder back
            try? fm.removeItem(at: tmp)
            throw e
        }
        try Posix.fsyncFolder(parent.path)
        try? fm.removeItem(at: old)
    }

    /// Throws ``SystemError/refusedPath(path:reason:)`` for the root folder, the working folder and
    /// the folders that hold it (given standardised, symlink-free).
    public static func checkReplaceable(_ target: URL, shown: String) throws {
        let path = target.path
        let name = target.lastPathComponent
        if path == "/" || path.isEmpty || name.isEmpty || name == "/" || name == "." || name == ".." {
            throw SystemError.refusedPath(path: shown, reason: "refusing to replace the root folder; give a folder to create or replace")
        }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL.resolvingSymlinksInPath().path
        if cwd == path || cwd.hasPrefix(path + "/") {
            throw SystemError.refusedPath(path: shown, reason: "refusing to replace the working folder or a folder that holds it")
        }
    }

    /// Writes `data` to `url` through a temporary file, fsync and a rename (``AtomicFile``).
    public static func writeFile(_ data: Data, to url: URL) throws {
        try AtomicFile.write(data, to: url)
    }
}
