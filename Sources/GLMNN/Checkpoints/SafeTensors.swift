import Foundation
import GLMSystem
import GLMTensor

/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
/// length N, N bytes of JSON (`{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
/// "__metadata__": {..}}`, offsets relative to the end of the header), then the raw tensor bytes.
public enum SafeTensors {
    /// Headers larger than this are refused before allocating anything (the reference implementation uses the same cap).
    static let maxHeaderBytes = 100 * 1024 * 1024

    /// Reads every tensor of a safetensors file.
    ///
    /// The file is memory-mapped; each returned ``TensorData`` is a slice of that mapping, so
    /// nothing is copied until the values are used.
    ///
    /// - Throws: ``CheckpointError`` — `fileNotFound`, `truncated` (file shorter than its header
    ///   declares), `corruptHeader` (bad JSON, overlapping or out-of-range offsets, size/shape
    ///   mismatch) or `unsupportedDType` (anything but F32, F16, BF16, I32).
    public static func read(_ url: URL) throws -> [String: TensorData] {
        try readWithMetadata(url).tensors
    }

    /// Like ``read(_:)``, also returning the `__metadata__` string map.
    public static func readWithMetadata(_ url: URL) throws -> (tensors: [String: TensorData], metadata: [String: String]) {
        let file = try MappedFile.checkpoint(url)
        let path = file.path
        let r = ByteReader(bytes: file.bytes, file: path)
        guard file.count >= 8 else {
            throw CheckpointError.truncated(file: path, detail: "\(file.count) bytes, the header length alone takes 8")
        }
        let n64 = try r.u64(0)
        guard n64 <= UInt64(maxHeaderBytes) else {
            throw CheckpointError.corruptHeader(file: path, detail: "header length \(n64) exceeds \(maxHeaderBytes)")
        }
        let n = Int(n64)
        guard n <= file.count - 8 else {
            throw CheckpointError.truncated(file: path, detail: "header of \(n) bytes but only \(file.count - 8) follow")
        }
        let json = Data(file.bytes[8..<(8 + n)])
        guard let object = try? JSONSerialization.jsonObject(with: json), let header = object as? [String: Any] else {
            throw CheckpointError.corruptHeader(file: path, detail: "header is not a JSON object")
        }
        // JSONSerialization keeps the last of two equal keys; a header naming a tensor twice is
        // ambiguous (which bytes are the weights?), so it is refused.
        let keys = topLevelKeys(json)
        if keys.count != header.count {
            var seen = Set<String>(), repeated = Set<String>()
            for k in keys where !seen.insert(k).inserted { repeated.insert(k) }
            throw CheckpointError.corruptHeader(file: path, detail: "the header names \(repeated.sorted().map { "'\($0)'" }.joined(separator: ", ")) more than once")
        }
        let dataStart = 8 + n
        let dataCount = file.count - dataStart
        var tensors: [String: TensorData] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw CheckpointError.corruptHeader(file: path, detail: "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw CheckpointError.corruptHeader(file: path, detail: "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeAny = entry["shape"] as? [Any],
                  let offsetsAny = entry["data_offsets"] as? [Any], offsetsAny.count == 2 else {
                throw CheckpointError.corruptHeader(file: path, detail: "entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = dtypeFromName[dtypeName] else {
                throw CheckpointError.unsupportedDType(file: path, tensor: name, dtype: dtypeName)
            }
            let shape = try shapeAny.map { any -> Int in
                guard let v = jsonInt(any), v >= 0 else {
                    throw CheckpointError.corruptHeader(file: path, detail: "entry '\(name)' has a bad shape \(shapeAny)")
                }
                return v
            }
            guard let begin = jsonInt(offsetsAny[0]), let end = jsonInt(offsetsAny[1]), 0 <= begin, begin <= end else {
                throw CheckpointError.corruptHeader(file: path, detail: "entry '\(name)' has bad data_offsets \(offsetsAny)")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, elements.multipliedReportingOverflow(by: dtype.size) == (end - begin, false) else {
                throw CheckpointError.corruptHeader(file: path, detail: "entry '\(name)': \(end - begin) bytes for \(dtypeName) \(shape)")
            }
            guard end <= dataCount else {
                throw CheckpointError.truncated(file: path, detail: "tensor '\(name)' ends at byte \(end) of a \(dataCount)-byte data section")
            }
            ranges.append((begin, end, name))
            tensors[name] = TensorData(dtype: dtype, shape: shape, file: file, offset: dataStart + begin)
        }
        ranges.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw CheckpointError.corruptHeader(file: path, detail: "tensors '\(a.2)' and '\(b.2)' overlap")
        }
        return (tensors, metadata)
    }

    /// Writes `tensors` (sorted by name, 8-byte-aligned header) to `url`.
    ///
    /// The bytes go to a temporary file in the destination folder which is then fsync'ed and
    /// renamed over `url`: a crash mid-write never leaves a half-written checkpoint under the
    /// final name, and rename(2) within one folder is atomic. It also makes it safe to overwrite
    /// the very file `tensors` were read from: their mapping keeps the old inode alive, where a
    /// truncating in-place write would pull the bytes out from under it (SIGBUS).
    ///
    /// - Throws: ``CheckpointError/io(file:detail:)`` when the folder is not writable or the disk is full.
    public static func write(_ tensors: [String: TensorData], to url: URL, metadata: [String: String] = [:]) throws {
        let path = url.path
        let names = tensors.keys.sorted()
        var header: [String: Any] = [:]
        var offset = 0
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": dtypeName(t.dtype), "shape": t.shape, "data_offsets": [offset, offset + t.byteCount]] as [String: Any]
            offset += t.byteCount
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json: [UInt8]
        do {
            json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
        } catch {
            throw CheckpointError.io(file: path, detail: "cannot encode the header: \(error)")
        }
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }

        try CheckpointError.mapping {
            let out = try AtomicFile(url)
            var prefix: [UInt8] = []
            prefix.le(UInt64(json.count))
            try out.write(prefix + json)
            for name in names {
                try tensors[name]!.withUnsafeBytes { try out.write($0) }
            }
            try out.commit()
        }
    }

    static let dtypeFromName: [String: DType] = ["F32": .f32, "F16": .f16, "BF16": .bf16, "I32": .i32]

    static func dtypeName(_ d: DType) -> String {
        switch d {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .i32: return "I32"
        }
    }
}

/// An integer from JSONSerialization output (NSNumber on Linux), rejecting fractions and booleans.
func jsonInt(_ any: Any) -> Int? {
    if let i = any as? Int { return i }
    if let d = any as? Double, d == d.rounded(), abs(d) < 9.0e15 { return Int(d) }
    return nil
}


/// The keys of a JSON object's top level, in order, duplicates included, from text that
/// JSONSerialization has already accepted. Nested values are skipped with a depth counter (no
/// recursion); keys with escapes are decoded so `"a"` and `"\u0061"` compare equal.
func topLevelKeys(_ json: Data) -> [String] {
    let b = [UInt8](json)
    var i = 0, keys: [String] = []
    func skipSpace() { while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }
    /// The string starting at b[i] (a quote); leaves i after the closing quote.
    func string() -> String {
        let start = i
        i += 1
        var escaped = false
        while i < b.count {
            if b[i] == 0x5C { escaped = true; i += 2; continue }
            if b[i] == 0x22 { break }
            i += 1
        }
        i += 1
        let raw = Data(b[start..<min(i, b.count)])
        guard escaped else { return String(decoding: raw.dropFirst().dropLast(), as: UTF8.self) }
        let wrapped = Data("[".utf8) + raw + Data("]".utf8)
        return ((try? JSONSerialization.jsonObject(with: wrapped)) as? [String])?.first ?? String(decoding: raw, as: UTF8.self)
    }
    skipSpace()
    guard i < b.count, b[i] == 0x7B else { return [] }
    i += 1
    while true {
        skipSpace()
        guard i < b.count, b[i] == 0x22 else { return keys }
        keys.append(string())
        skipSpace()
        i += 1  // ':'
        skipSpace()
        // Skip one value: strings, and nested objects/arrays by depth.
        var depth = 0
        while i < b.count {
            let c = b[i]
            if c == 0x22 { _ = string(); if depth == 0 { break }; continue }
            if c == 0x7B || c == 0x5B { depth += 1 } else if c == 0x7D || c == 0x5D {
                if depth == 0 { break }
                depth -= 1
                if depth == 0 { i += 1; break }
            } else if depth == 0 && c == 0x2C { break }
            i += 1
        }
        skipSpace()
        guard i < b.count, b[i] == 0x2C else { return keys }
        i += 1
    }
}
