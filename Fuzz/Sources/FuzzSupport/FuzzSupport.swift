#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What every fuzz target shares: a scratch folder for the files readers need, input splitting,
/// and seed writing.
///
/// Each target defines `LLVMFuzzerTestOneInput` (one input → one read, which may fail with an
/// error but must never crash) and `LLVMFuzzerInitialize`, which calls ``initialize(seeds:)``: with
/// `GLM_FUZZ_SEEDS=<folder>` set, the target writes its crafted seed inputs there and exits, so
/// seeds are made by code, never committed as blobs (Fuzz/run.sh does this before fuzzing).
public enum Fuzz {
    /// A private scratch folder (in /dev/shm when there is one: a file per input stays in memory).
    public static let scratch: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let dir = base + "/glm-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: Fuzz.scratch) }
        return dir
    }()

    /// Writes `bytes` to `scratch/name` (replacing it) and returns its URL.
    @discardableResult
    public static func file(_ name: String, _ bytes: UnsafeRawBufferPointer) -> URL {
        let path = scratch + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot write \(path)")
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            precondition(n > 0, "cannot write \(path)")
            done += n
        }
        close(fd)
        return URL(fileURLWithPath: path)
    }

    @discardableResult
    public static func file(_ name: String, _ bytes: [UInt8]) -> URL { bytes.withUnsafeBytes { file(name, $0) } }

    /// A folder under the scratch folder, emptied.
    public static func folder(_ name: String) -> URL {
        let path = scratch + "/" + name
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return URL(fileURLWithPath: path)
    }

    /// Separates the files of a multi-file input (vocab + merges, manifest + shards).
    public static let separator: [UInt8] = Array("\n#--glm-fuzz-file--#\n".utf8)

    /// `data` cut at each ``separator``, padded with empty parts to at least `count`.
    public static func split(_ data: UnsafeRawBufferPointer, count: Int) -> [[UInt8]] {
        let b = [UInt8](data)
        var parts: [[UInt8]] = [], start = 0, i = 0
        let s = separator
        while i + s.count <= b.count {
            if b[i] == s[0] && Array(b[i..<(i + s.count)]) == s {
                parts.append(Array(b[start..<i])); i += s.count; start = i
            } else { i += 1 }
        }
        parts.append(Array(b[start...]))
        while parts.count < count { parts.append([]) }
        return parts
    }

    /// Files joined with ``separator``: the inverse of ``split(_:count:)``.
    public static func join(_ parts: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, p) in parts.enumerated() { if i > 0 { out += separator }; out += p }
        return out
    }

    /// With `GLM_FUZZ_SEEDS=<folder>`: writes `seeds()` there as `name` files and exits.
    public static func initialize(seeds: () throws -> [(name: String, bytes: [UInt8])]) {
        setenv("GLM_MEMORY_LIMIT", ProcessInfo.processInfo.environment["GLM_MEMORY_LIMIT"] ?? "1G", 1)
        guard let dir = ProcessInfo.processInfo.environment["GLM_FUZZ_SEEDS"] else { return }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let list = try seeds()
            for s in list { try Data(s.bytes).write(to: URL(fileURLWithPath: dir + "/" + s.name)) }
            print("wrote \(list.count) seeds to \(dir)")
            exit(0)
        } catch {
            print("cannot write seeds: \(error)")
            exit(1)
        }
    }

    /// Bytes of a string.
    public static func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }
}
