import Foundation
import GLMSystem

extension CheckpointError {
    /// A file-system failure as a checkpoint error about the same file.
    init(_ e: SystemError) {
        switch e {
        case .notFound(let p): self = .fileNotFound(file: p)
        case .isFolder(let p): self = .io(file: p, detail: "is a folder, expected a file")
        case .io(let p, let op, let r): self = .io(file: p, detail: "\(op): \(r)")
        case .notAFolder(let p), .refusedPath(let p, _), .locked(let p, _): self = .io(file: p, detail: e.description)
        case .insufficientMemory: self = .io(file: "checkpoint", detail: e.description)
        }
    }

    /// Runs `body`, reporting a ``SystemError`` it throws as a ``CheckpointError``.
    static func mapping<R>(_ body: () throws -> R) throws -> R {
        do { return try body() } catch let e as SystemError { throw CheckpointError(e) }
    }
}

extension MappedFile {
    /// Maps a checkpoint file; failures are ``CheckpointError``s naming it.
    static func checkpoint(_ url: URL) throws -> MappedFile {
        try CheckpointError.mapping { try MappedFile(url) }
    }
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

/// Little-endian byte appends for headers.
extension Array where Element == UInt8 {
    mutating func le<T: FixedWidthInteger>(_ v: T) {
        for i in 0..<(T.bitWidth / 8) { append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
    }
}
