#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Sequential writes into a temporary file next to the destination, made visible under the final
/// name only by ``commit()`` (fsync, then rename(2), which is atomic within one folder).
///
/// A crash or an error mid-write therefore never leaves a half-written checkpoint under its real
/// name; the temporary file is removed when the writer is dropped uncommitted.
public final class AtomicFile {
    let destination: String
    let temporary: String
    private var fd: Int32
    private(set) var offset: Int = 0

    /// Writes `data` to `url` through a temporary file, fsync and rename.
    public static func write(_ data: Data, to url: URL) throws {
        let f = try AtomicFile(url)
        try data.withUnsafeBytes { try f.write($0) }
        try f.commit()
    }

    init(_ url: URL) throws {
        destination = url.path
        let dir = url.deletingLastPathComponent().path
        temporary = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError.io(file: temporary, detail: "open: \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporary)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.io(file: temporary, detail: "write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        offset += bytes.count
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Flushes to disk and renames over the destination.
    func commit() throws {
        guard fsync(fd) == 0 else { throw CheckpointError.io(file: temporary, detail: "fsync: \(String(cString: strerror(errno)))") }
        let closed = close(fd)
        fd = -1
        guard closed == 0 else {
            unlink(temporary)
            throw CheckpointError.io(file: temporary, detail: "close: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, destination) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw CheckpointError.io(file: destination, detail: "rename from \(temporary): \(message)")
        }
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

/// Little-endian byte appends for headers.
extension Array where Element == UInt8 {
    mutating func le<T: FixedWidthInteger>(_ v: T) {
        for i in 0..<(T.bitWidth / 8) { append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
    }
}
