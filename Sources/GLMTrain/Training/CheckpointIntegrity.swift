import Foundation
import GLM
import GLMNN
import GLMSystem
import GLMTensor

/// Whether a checkpoint folder holds what was written: the CRC-32C of every file, the weights and
/// optimizer moments finite, the trainer state's numbers in range.
///
/// `checksums.json` is the last file written into a checkpoint (after the weights, the moments,
/// every optimizer shard and `trainer_state.json`), listing each other file's size and CRC-32C:
///
/// ```json
/// {"algorithm": "crc32c", "files": {"model.safetensors": {"bytes": 1234, "crc32c": "0a1b2c3d"}, …}}
/// ```
///
/// A flipped byte, a truncated or missing file is found before anything is loaded, and the error
/// names the file. Checkpoints written before checksums existed have no manifest; they load
/// unverified (the finite checks still apply).
public enum CheckpointIntegrity {
    /// The manifest's name inside a checkpoint folder.
    public static let manifestName = "checksums.json"

    struct Entry: Codable, Equatable {
        var bytes: Int
        var crc32c: String
    }

    struct Manifest: Codable {
        var algorithm: String
        var files: [String: Entry]
    }

    /// Writes `checksums.json` into `dir`, covering every other regular file under it.
    public static func writeManifest(in dir: URL) throws {
        var files: [String: Entry] = [:]
        for rel in try regularFiles(in: dir) where rel != manifestName {
            let url = dir.appendingPathComponent(rel)
            let f = try MappedFile(url)
            files[rel] = Entry(bytes: f.bytes.count, crc32c: GLMSystem.CRC32C.hex(GLMSystem.CRC32C.checksum(f.bytes)))
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(Manifest(algorithm: "crc32c", files: files)).write(to: dir.appendingPathComponent(manifestName))
    }

    /// Checks every file `dir/checksums.json` lists. Returns false when the folder has no manifest
    /// (a checkpoint from before checksums); throws naming the file that is missing, of another
    /// size or with another checksum, or a manifest that does not parse.
    @discardableResult
    public static func verify(_ dir: URL) throws -> Bool {
        let manifestURL = dir.appendingPathComponent(manifestName)
        guard FileManager.default.fileExists(atPath: manifestURL.path) else { return false }
        let manifest: Manifest
        do { manifest = try decodeJSON(Manifest.self, from: MappedFile.read(manifestURL)) } catch {
            throw TrainError.checkpoint("\(manifestURL.path) is damaged: \(describeDecodingError(error))")
        }
        guard manifest.algorithm == "crc32c" else {
            throw TrainError.checkpoint("\(manifestURL.path): unknown checksum algorithm \"\(manifest.algorithm)\"")
        }
        for (rel, want) in manifest.files.sorted(by: { $0.key < $1.key }) {
            guard !rel.split(separator: "/").contains(".."), !rel.hasPrefix("/") else {
                throw TrainError.checkpoint("\(manifestURL.path) names \(rel), outside the checkpoint")
            }
            let url = dir.appendingPathComponent(rel)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw TrainError.checkpoint("\(url.path) is missing (listed in \(manifestName))")
            }
            let f: MappedFile
            do { f = try MappedFile(url) } catch { throw TrainError.checkpoint("\(url.path): \(error)") }
            guard f.bytes.count == want.bytes else {
                throw TrainError.checkpoint("\(url.path) has \(f.bytes.count) bytes, \(want.bytes) were written (truncated or replaced)")
            }
            let got = GLMSystem.CRC32C.hex(GLMSystem.CRC32C.checksum(f.bytes))
            guard got == want.crc32c.lowercased() else {
                throw TrainError.checkpoint("\(url.path) is corrupt: CRC-32C \(got), \(want.crc32c) was written")
            }
        }
        return true
    }

    /// Relative paths of the regular files under `dir`, sorted.
    static func regularFiles(in dir: URL) throws -> [String] {
        let fm = FileManager.default
        var out: [String] = []
        var work = [""]
        while let rel = work.popLast() {
            let here = rel.isEmpty ? dir : dir.appendingPathComponent(rel)
            for name in try fm.contentsOfDirectory(atPath: here.path) {
                let child = rel.isEmpty ? name : rel + "/" + name
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: dir.appendingPathComponent(child).path, isDirectory: &isDir) else { continue }
                if isDir.boolValue { work.append(child) } else { out.append(child) }
            }
        }
        return out.sorted()
    }

    /// The index of the first value that is NaN or infinite, or nil.
    static func firstNonFinite(_ p: UnsafePointer<Float>, count: Int) -> Int? {
        var i = 0
        while i < count {
            if !p[i].isFinite { return i }
            i += 1
        }
        return nil
    }

    /// Throws naming the first parameter holding a NaN or infinite value (`what`: "weights" or
    /// the checkpoint they came from).
    public static func checkFinite(_ store: ParameterStore, _ what: String) throws {
        guard let i = firstNonFinite(store.values.floats, count: store.totalCount) else { return }
        let p = store.parameters.last { $0.offset <= i }
        let name = p.map { "\($0.name)[\(i - $0.offset)]" } ?? "element \(i)"
        throw TrainError.nonFinite("\(what): \(name) is \(store.values.floats[i])")
    }

    /// Throws when the optimizer's moments hold NaN or infinite values, or a negative second moment.
    public static func checkMoments(_ optimizer: AdamW, _ what: String) throws {
        let n = optimizer.shard.count
        if let i = firstNonFinite(optimizer.m.floats, count: n) {
            throw TrainError.nonFinite("\(what): exp_avg[\(optimizer.shard.lowerBound + i)] is \(optimizer.m.floats[i])")
        }
        if let i = firstNonFinite(optimizer.v.floats, count: n) {
            throw TrainError.nonFinite("\(what): exp_avg_sq[\(optimizer.shard.lowerBound + i)] is \(optimizer.v.floats[i])")
        }
        for i in 0..<n where optimizer.v.floats[i] < 0 {
            throw TrainError.nonFinite("\(what): exp_avg_sq[\(optimizer.shard.lowerBound + i)] is negative (\(optimizer.v.floats[i]))")
        }
    }
}

extension TrainerState {
    /// The largest step, data cursor and token count a state may hold: far beyond any run, and small
    /// enough that cursor × batch size and token sums cannot overflow.
    public static let limit = 1 << 40

    /// Checks the numbers read from a `trainer_state.json` (`source`), naming the field at fault.
    public func validate(source: String) throws {
        for (name, value) in [("step", step), ("dataCursor", dataCursor), ("tokens", tokens)] {
            guard value >= 0, value <= Self.limit else {
                throw TrainError.checkpoint("\(source): field \"\(name)\" is \(value), outside 0…\(Self.limit)")
            }
        }
        guard elapsed.isFinite, elapsed >= 0 else {
            throw TrainError.checkpoint("\(source): field \"elapsed\" is \(elapsed), not a finite number ≥ 0")
        }
    }
}
