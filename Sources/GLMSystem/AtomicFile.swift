#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Sequential writes into a temporary file next to the destination, made visible under the final
/// name only by ``commit()``: fsync of the data, rename(2) over the destination (atomic within one
/// folder), then fsync of the folder so the new name itself survives a power cut.
///
/// Nothing is deleted before its replacement is complete: until the rename the old file is
/// untouched, and after it the old inode lives on for readers that still map it. A crash or an error
/// mid-write never leaves a half-written file under the real name; the temporary file is removed
/// when the writer is dropped uncommitted. This is the one writer every replacing write goes through.
public final class AtomicFile {
    /// The final path.
    public let destination: String
    /// The hidden temporary path in the same folder (`.<name>.tmp-<pid>-<random>`).
    public let temporary: String
    private var fd: Int32
    /// Bytes written so far.
    public private(set) var offset: Int = 0

    /// Writes `data` to `url` through a temporary file, fsync and rename.
    ///
    /// - Throws: ``SystemError`` naming the path (folder missing or not writable, disk full…).
    public static func write(_ data: Data, to url: URL) throws {
        let f = try AtomicFile(url)
        try data.withUnsafeBytes { try f.write($0) }
        try f.commit()
    }

    /// Opens the temporary file next to `url` (the destination's folder must exist).
    public init(_ url: URL) throws {
        destination = url.path
        let dir = Posix.parent(destination)
        var st = stat()
        if stat(destination, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw SystemError.isFolder(path: destination)
        }
        temporary = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw SystemError.io(path: destination, operation: "create", reason: "the folder \(dir) does not exist") }
            throw Posix.fail(temporary, "create", code)
        }
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporary)
        }
    }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw SystemError.io(path: temporary, operation: "write", reason: "already committed") }
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw Posix.fail(temporary, "write")
            }
            done += n
        }
        offset += bytes.count
    }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Flushes to disk, renames over the destination and flushes the folder.
    public func commit() throws {
        guard fd >= 0 else { throw SystemError.io(path: temporary, operation: "commit", reason: "already committed") }
        guard fsync(fd) == 0 else { throw Posix.fail(temporary, "fsync") }
        let closed = close(fd)
        fd = -1
        guard closed == 0 else {
            let e = Posix.fail(temporary, "close")
            unlink(temporary)
            throw e
        }
        guard rename(temporary, destination) == 0 else {
            let code = errno
            unlink(temporary)
            throw SystemError.io(path: destination, operation: "rename from \(temporary)", reason: Posix.errorText(code))
        }
        try Posix.fsyncFolder(Posix.parent(destination))
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif
