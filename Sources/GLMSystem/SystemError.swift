import Foundation

/// Why an operation on files, locks or memory failed. Every case names the path or the thing at
/// fault, because these errors reach users of every `glm` command.
public enum SystemError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The path does not exist.
    case notFound(path: String)
    /// A folder was given where a file is expected.
    case isFolder(path: String)
    /// A file (or nothing) was given where a folder is expected.
    case notAFolder(path: String)
    /// The operating system refused `operation` (open, mmap, write, fsync, rename…); `reason` is errno's text.
    case io(path: String, operation: String, reason: String)
    /// Another process (or another part of this one) holds the lock on `path`.
    case locked(path: String, holder: String)
    /// An operation would need more memory than the machine has available.
    case insufficientMemory(what: String, neededBytes: Int, availableBytes: Int)
    /// A folder that must not be replaced (the root, the working folder or one holding it).
    case refusedPath(path: String, reason: String)

    /// The message without the path, for callers whose own error already names it.
    public var reason: String {
        switch self {
        case .notFound: return "no such file or folder"
        case .isFolder: return "is a folder, expected a file"
        case .notAFolder: return "is not a folder"
        case .io(_, let op, let r): return "\(op) failed: \(r)"
        case .refusedPath(_, let r): return r
        default: return description
        }
    }

    public var description: String {
        switch self {
        case .notFound(let p): return "\(p): no such file or folder"
        case .isFolder(let p): return "\(p): is a folder, expected a file"
        case .notAFolder(let p): return "\(p): is not a folder"
        case .io(let p, let op, let r): return "\(p): \(op) failed: \(r)"
        case .locked(let p, let h): return "\(p) is locked by \(h); wait for it to finish or stop it"
        case .insufficientMemory(let what, let need, let have):
            return "\(what) needs about \(formatBytes(need)) of memory but only \(formatBytes(have)) is available"
        case .refusedPath(let p, let r): return "\(p): \(r)"
        }
    }
}

/// `1.5 GiB`-style sizes for messages.
public func formatBytes(_ n: Int) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var v = Double(n), u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) bytes" : String(format: "%.1f", v) + " " + units[u]
}
