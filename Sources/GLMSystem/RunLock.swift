#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An exclusive lock on a folder (a run folder, a shard folder), held by one process at a time.
///
/// It is an flock(2) on a lock file, so the kernel releases it when the holder exits or is killed —
/// a crashed run never leaves a stale lock behind. The file names the holder (PID, host, what it is
/// doing, since when) so the error a second process gets says who to wait for. Two locks on the same
/// folder conflict even within one process (each opens its own descriptor).
///
/// ```swift
/// let lock = try RunLock.acquire(folder: runDir, purpose: "glm pretrain")
/// defer { lock.release() }
/// ```
public final class RunLock: @unchecked Sendable {
    // Safety: `fd` is only changed by `release`, which callers do not race with other uses.
    /// The lock file.
    public let path: String
    private var fd: Int32

    /// The lock file's name inside a locked folder.
    public static let fileName = ".glm.lock"

    private init(path: String, fd: Int32) { self.path = path; self.fd = fd }

    deinit { release() }

    /// Takes the lock of `folder` (created if missing; the lock file is `folder/.glm.lock`), or
    /// throws at once if someone holds it.
    ///
    /// - Parameter purpose: what the holder does, recorded for the error of the next one (`glm pretrain`).
    /// - Throws: ``SystemError/locked(path:holder:)`` naming the holder's PID and purpose;
    ///   ``SystemError`` when the folder cannot be created or the lock file not written.
    public static func acquire(folder: URL, purpose: String) throws -> RunLock {
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw SystemError.io(path: folder.path, operation: "create folder", reason: error.localizedDescription)
        }
        return try acquire(file: folder.appendingPathComponent(fileName).path, purpose: purpose)
    }

    /// Takes the lock of a folder that is about to be replaced as a whole (``AtomicFolder``): the lock
    /// file is its sibling `.<name>.lock`, which outlives the swap of the folder itself.
    public static func acquire(replacing folder: URL, purpose: String) throws -> RunLock {
        let parent = folder.deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw SystemError.io(path: parent.path, operation: "create folder", reason: error.localizedDescription)
        }
        return try acquire(file: parent.appendingPathComponent(".\(folder.lastPathComponent).lock").path, purpose: purpose)
    }

    /// Takes the lock held on the file at `path`.
    public static func acquire(file path: String, purpose: String) throws -> RunLock {
        // A holder deletes the file on release; a waiter may have opened the old inode just before,
        // so after locking, check the path still names the locked file, and retry otherwise.
        for _ in 0..<100 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Posix.fail(path, "open lock file") }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                let holder = describeHolder(fd: fd)
                close(fd)
                if code == EWOULDBLOCK || code == EAGAIN { throw SystemError.locked(path: path, holder: holder) }
                throw SystemError.io(path: path, operation: "flock", reason: Posix.errorText(code))
            }
            var a = stat(), b = stat()
            guard fstat(fd, &a) == 0, stat(path, &b) == 0, a.st_ino == b.st_ino, a.st_dev == b.st_dev else {
                close(fd)
                continue
            }
            let lock = RunLock(path: path, fd: fd)
            try lock.record(purpose: purpose)
            return lock
        }
        throw SystemError.io(path: path, operation: "flock", reason: "the lock file kept being replaced")
    }

    /// Whether this object still holds the lock.
    public var isHeld: Bool { fd >= 0 }

    /// Removes the lock file and releases the lock (also done when the object is dropped).
    public func release() {
        guard fd >= 0 else { return }
        unlink(path)  // while still locked, so no one holds a lock on the name being removed
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    /// The holder text of a lock file (PID, host, purpose, start), for messages.
    public static func holder(ofFile path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return describeHolder(fd: fd)
    }

    private func record(purpose: String) throws {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let started = ISO8601DateFormatter().string(from: Date())
        let text = "pid \(getpid())\nhost \(hostName)\npurpose \(purpose)\nstarted \(started)\n"
        guard ftruncate(fd, 0) == 0 else { throw Posix.fail(path, "truncate lock file") }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard n == bytes.count else { throw Posix.fail(path, "write lock file") }
        _ = fsync(fd)
    }

    /// "PID 1234 on host (glm prepare, since …)" from the lock file's contents.
    private static func describeHolder(fd: Int32) -> String {
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return "another process (the lock file names no holder yet)" }
        var fields: [String: String] = [:]
        for line in String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            fields[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        var s = "PID \(fields["pid"] ?? "?")"
        if let h = fields["host"] { s += " on \(h)" }
        var details: [String] = []
        if let p = fields["purpose"] { details.append(p) }
        if let t = fields["started"] { details.append("since \(t)") }
        if fields["pid"] == "\(getpid())" { details.append("this process") }
        if !details.isEmpty { s += " (" + details.joined(separator: ", ") + ")" }
        return s
    }
}
