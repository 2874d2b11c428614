#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A whole file mapped read-only into memory with mmap(2).
///
/// Checkpoints are GBs; mapping lets tensors be slices of the file that the kernel pages in on
/// demand, with no copy into a `Data`. The mapping is immutable (PROT_READ, MAP_PRIVATE) and lives
/// until the last ``TensorData`` slicing it is gone, which is what makes sharing it across threads safe.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer?
    let count: Int

    init(_ url: URL) throws {
        path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { throw CheckpointError.fileNotFound(file: path) }
            throw CheckpointError.io(file: path, detail: "open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw CheckpointError.io(file: path, detail: "fstat: \(String(cString: strerror(errno)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw CheckpointError.io(file: path, detail: "is a folder, expected a file")
        }
        count = Int(st.st_size)
        if count == 0 {
            base = nil  // mmap rejects length 0; an empty file is simply an empty buffer
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw CheckpointError.io(file: path, detail: "mmap: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The mapped bytes; valid while `self` is alive.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// Bounds-checked little-endian reads over a byte buffer; every out-of-range read is a `truncated` error.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String

    func require(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws {
        guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw CheckpointError.truncated(file: file, detail: "\(what()) needs bytes \(offset)..<\(offset &+ length) of \(bytes.count)")
        }
    }

    func u8(_ o: Int) throws -> UInt8 { try require(o, 1, "a byte"); return bytes[o] }
    func u16(_ o: Int) throws -> UInt16 { try require(o, 2, "a u16"); return UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
    func u32(_ o: Int) throws -> UInt32 {
        try require(o, 4, "a u32")
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[o + $1]) << (8 * UInt32($1)) }
    }
    func u64(_ o: Int) throws -> UInt64 {
        try require(o, 8, "a u64")
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) }
    }
}
