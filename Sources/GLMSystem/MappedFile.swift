#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A whole file mapped read-only into memory with mmap(2).
///
/// Checkpoints and token shards are GBs; mapping lets readers take slices that the kernel pages in
/// on demand, with no copy. The mapping is immutable (PROT_READ, MAP_PRIVATE) and lives until the
/// last reference is gone, which is what makes sharing it across threads safe.
public final class MappedFile: @unchecked Sendable {
    /// The path it was opened from.
    public let path: String
    /// Start of the mapping; nil for an empty file.
    public let base: UnsafeRawPointer?
    /// Size in bytes.
    public let count: Int

    /// Maps `url`.
    ///
    /// - Throws: ``SystemError/notFound(path:)``, ``SystemError/isFolder(path:)`` (a folder where a
    ///   file is expected), ``SystemError/io(path:operation:reason:)``.
    public init(_ url: URL) throws {
        path = url.path
        // O_NONBLOCK: a FIFO given as a file fails below instead of waiting for a writer forever.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { throw Posix.fail(path, "open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Posix.fail(path, "fstat") }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw SystemError.isFolder(path: path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw SystemError.io(path: path, operation: "map", reason: "not a regular file")
        }
        count = Int(st.st_size)
        if count == 0 {
            base = nil  // mmap rejects length 0; an empty file is simply an empty buffer
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw Posix.fail(path, "mmap") }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The mapped bytes; valid while `self` is alive.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A copy of the whole file.
    public var data: Data { count == 0 ? Data() : Data(bytes) }

    /// Reads a whole (small) file, with errors that say what is wrong — a folder where a file is
    /// expected, a missing file — instead of Foundation's "NSCocoaErrorDomain error 256".
    public static func read(_ url: URL) throws -> Data { try MappedFile(url).data }
}
