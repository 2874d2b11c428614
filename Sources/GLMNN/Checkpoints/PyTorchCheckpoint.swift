import Foundation
import GLMSystem
import GLMTensor

/// Files written by `torch.save`: the zip format (PyTorch ≥ 1.6: `<prefix>/data.pkl` plus one
/// stored entry `<prefix>/data/<key>` per storage) and the legacy format (consecutive pickles
/// followed by raw storages).
public enum PyTorchCheckpoint {
    /// Reads the state dict of a `torch.save` file.
    ///
    /// The state dict is the pickled top-level dict, or its `module`, `model` or `state_dict` entry
    /// when there is one (official GLM checkpoints keep it under `module`). Only its tensor entries
    /// are returned, under their keys as stored; everything else in the file (iteration counters,
    /// optimizer and RNG state) is parsed but never materialised. Tensors that are contiguous in
    /// their storage are slices of the memory-mapped file; views (storage offsets, transposes,
    /// slices) are copied into contiguous form.
    ///
    /// Dtypes: f32, f16, bf16 and i32 are kept; f64 becomes f32; i64, i16, i8, u8 and bool become
    /// i32 (an i64 value outside the i32 range is an `unsupportedDType` error).
    ///
    /// - Throws: ``CheckpointError`` — `forbiddenGlobal` when the pickle names any callable outside
    ///   the tensor-rebuilding allow-list (nothing is executed), `compressedEntry`, `truncated`,
    ///   `corruptHeader`, `unsupportedPickle`, `unsupportedDType`.
    public static func read(_ url: URL) throws -> [String: TensorData] {
        let file = try MappedFile.checkpoint(url)
        let arena = PickleArena()
        defer { arena.dismantle() }
        let (top, locate) = try ZipArchive.looksLikeZip(file) ? readZip(file, arena: arena) : readLegacy(file, arena: arena)
        let dict = try stateDict(top, file.path)
        var out: [String: TensorData] = [:]
        for (k, v) in dict.items {
            guard case .string(let key) = k, case .tensor(let t) = v else { continue }
            out[key] = try materialise(t, name: key, file: file, locate: locate)
        }
        return out
    }

    /// Where a storage's bytes are: a byte offset in the file and the bytes available there.
    typealias Locate = (StorageRef) throws -> (offset: Int, available: Int)

    static func stateDict(_ top: PickleValue, _ path: String) throws -> PyDict {
        guard case .dict(let d) = top else {
            throw CheckpointError.corruptHeader(file: path, detail: "the pickled object is not a dict")
        }
        for key in ["module", "model", "state_dict"] {
            if case .dict(let inner)? = d[key] { return inner }
        }
        return d
    }

    // MARK: zip format

    static func readZip(_ file: MappedFile, arena: PickleArena) throws -> (PickleValue, Locate) {
        let path = file.path
        let zip = try ZipArchive(file)
        guard let pkl = zip.names.first(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }) else {
            throw CheckpointError.corruptHeader(file: path, detail: "zip has no data.pkl: not a torch.save archive")
        }
        let prefix = String(pkl.dropLast("data.pkl".count))
        if zip.entries[prefix + "byteorder"] != nil {
            let order = String(decoding: try zip.data(of: prefix + "byteorder"), as: UTF8.self)
            guard order.hasPrefix("little") else {
                throw CheckpointError.corruptHeader(file: path, detail: "byteorder is '\(order)'; only little-endian checkpoints are supported")
            }
        }
        let persistent: (PickleValue) throws -> PickleValue = { pid in
            // ('storage', storage_type, key, location, numel)
            guard let t = pid.tupleItems, t.count >= 5, case .string("storage") = t[0],
                  case .global(_, .storageType(let dtype)) = t[1], case .string(let key) = t[2], let n = t[4].intValue else {
                throw CheckpointError.unsupportedPickle(file: path, detail: "unexpected persistent id \(pid.summary())")
            }
            return .storage(StorageRef(key: key, dtype: dtype, count: n))
        }
        var unpickler = Unpickler(bytes: try zip.data(of: pkl), file: path, arena: arena, persistentLoad: persistent)
        let top = try unpickler.load()
        let locate: Locate = { s in
            let r = try zip.dataRange(of: prefix + "data/" + s.key)
            return (r.lowerBound, r.count)
        }
        return (top, locate)
    }

    // MARK: legacy format

    /// The legacy format: pickles of the magic number, the protocol version and sys_info, then the
    /// object, then the list of storage keys; then for each key in that order an 8-byte element
    /// count followed by the raw elements.
    static func readLegacy(_ file: MappedFile, arena: PickleArena) throws -> (PickleValue, Locate) {
        let path = file.path
        guard file.count > 0, file.bytes[0] == 0x80 else {
            throw CheckpointError.corruptHeader(file: path, detail: "neither a zip archive nor a pickle: not a torch.save file")
        }
        // The storage views of legacy files are resolved against their root storage afterwards.
        final class Roots { var map: [String: StorageRef] = [:] }
        let collected = Roots()
        let persistent: (PickleValue) throws -> PickleValue = { pid in
            // ('storage', storage_type, root_key, location, numel, view_metadata)
            guard let t = pid.tupleItems, t.count >= 6, case .string("storage") = t[0],
                  case .global(_, .storageType(let dtype)) = t[1], case .string(let key) = t[2], let n = t[4].intValue else {
                throw CheckpointError.unsupportedPickle(file: path, detail: "unexpected persistent id \(pid.summary())")
            }
            collected.map[key] = StorageRef(key: key, dtype: dtype, count: n)
            var ref = StorageRef(key: key, dtype: dtype, count: n)
            if let view = t[5].tupleItems, view.count == 3, let offset = view[1].intValue, let size = view[2].intValue {
                guard offset >= 0, size >= 0, offset <= n, size <= n - offset else {
                    throw CheckpointError.corruptHeader(file: path, detail: "storage view \(offset)+\(size) outside storage '\(key)' of \(n)")
                }
                ref = StorageRef(key: key, dtype: dtype, count: offset + size, viewOffset: offset)
            }
            return .storage(ref)
        }
        var u = Unpickler(bytes: file.bytes, file: path, arena: arena, persistentLoad: persistent)
        let magic = try u.load()
        guard case .bigInt(let m) = magic, m == [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19] else {
            throw CheckpointError.corruptHeader(file: path, detail: "a pickle but not a torch.save file (no legacy magic number)")
        }
        _ = try u.load()                 // protocol version
        let info = try u.load()          // sys_info
        if case .dict(let d) = info, case .bool(false)? = d["little_endian"] {
            throw CheckpointError.corruptHeader(file: path, detail: "saved on a big-endian machine")
        }
        let top = try u.load()
        let keysValue = try u.load()
        guard let keys = keysValue.tupleItems else {
            throw CheckpointError.corruptHeader(file: path, detail: "legacy storage key list missing")
        }
        var offsets: [String: (Int, Int)] = [:]
        var o = u.position
        let r = ByteReader(bytes: file.bytes, file: path)
        for k in keys {
            guard case .string(let key) = k, let root = collected.map[key] else {
                throw CheckpointError.corruptHeader(file: path, detail: "legacy storage key \(k.summary()) was never referenced")
            }
            let n = try checkedInt(r.u64(o), path, "storage '\(key)' size")
            let bytes = n.multipliedReportingOverflow(by: root.dtype.size)
            guard !bytes.overflow else { throw CheckpointError.corruptHeader(file: path, detail: "storage '\(key)' size \(n)") }
            try r.require(o + 8, bytes.partialValue, "storage '\(key)'")
            offsets[key] = (o + 8, bytes.partialValue)
            o += 8 + bytes.partialValue
        }
        let locate: Locate = { s in
            guard let (offset, available) = offsets[s.key] else {
                throw CheckpointError.corruptHeader(file: path, detail: "storage '\(s.key)' has no data")
            }
            return (offset, available)
        }
        return (top, locate)
    }

    // MARK: tensors

    /// The most bytes one tensor of a checkpoint may describe, whatever its storage: a view with
    /// zero strides can claim any size over one element (`(2**62,)` over a 1-element storage).
    static func maxTensorBytes() -> Int { SystemMemory.available() }

    static func materialise(_ t: TensorRef, name: String, file: MappedFile, locate: Locate) throws -> TensorData {
        let path = file.path
        let src = t.storage.dtype
        let esize = src.size
        guard t.size.allSatisfy({ $0 >= 0 }), t.stride.allSatisfy({ $0 >= 0 }), t.offset >= 0 else {
            throw CheckpointError.corruptHeader(file: path, detail: "tensor '\(name)' has negative size, stride or offset")
        }
        // Sizes, strides and offsets come from the file: do the bounds arithmetic with overflow
        // checks so that a corrupt pickle is an error, not a trap.
        func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> Int {
            guard !r.overflow else {
                throw CheckpointError.corruptHeader(file: path, detail: "tensor '\(name)': size \(t.size), stride \(t.stride), offset \(t.offset) overflow")
            }
            return r.partialValue
        }
        guard let count = TensorData.elementCount(t.size) else {
            throw CheckpointError.corruptHeader(file: path, detail: "tensor '\(name)': size \(t.size) has more elements than an Int holds")
        }
        let dtype: DType
        switch src {
        case .f32: dtype = .f32
        case .f16: dtype = .f16
        case .bf16: dtype = .bf16
        case .i32: dtype = .i32
        case .f64: dtype = .f32
        case .i64, .i16, .i8, .u8, .bool: dtype = .i32
        }
        let outBytes = try checked(count.multipliedReportingOverflow(by: dtype.size))
        let (storageOffset, available) = try locate(t.storage)
        let base = try checked(t.offset.addingReportingOverflow(t.storage.viewOffset))
        if count == 0 { return TensorData(dtype: dtype, shape: t.size, owned: []) }
        // The last element any index reaches must lie inside the storage's bytes.
        var last = base
        for (size, stride) in zip(t.size, t.stride) {
            last = try checked(last.addingReportingOverflow(try checked((size - 1).multipliedReportingOverflow(by: stride))))
        }
        let end = try checked(try checked(last.addingReportingOverflow(1)).multipliedReportingOverflow(by: esize))
        guard end <= available else {
            throw CheckpointError.truncated(file: path, detail: "tensor '\(name)' reaches element \(last) of a storage with \(available / esize)")
        }
        let start = storageOffset + base * esize
        let contiguous = isContiguous(t.size, t.stride)
        let direct = src == .f32 || src == .f16 || src == .bf16 || src == .i32
        if direct && contiguous {
            return TensorData(dtype: dtype, shape: t.size, file: file, offset: start)
        }
        // A view or a conversion: gathered lazily when read, so it must be possible to hold.
        let limit = maxTensorBytes()
        guard outBytes <= limit else {
            throw CheckpointError.tooLarge(file: path, detail: "tensor '\(name)' of size \(t.size) over a storage of \(available / esize) elements would need \(formatBytes(outBytes)); \(formatBytes(limit)) of memory is available")
        }
        let view = StridedView(file: file, start: start, size: t.size, stride: t.stride, source: src, count: count)
        if src == .i64 {
            // int64 becomes int32: every value the view reads must fit. A view of at most as many
            // elements as the span base...last it covers is checked element by element; a wider one
            // (zero or overlapping strides) by every value in the span, which the storage bounds.
            let raw = file.bytes.baseAddress!
            let fits = count <= last - base + 1 ? view.int64ValuesFitInt32()
                : (base...last).allSatisfy { Int32(exactly: (raw + storageOffset + $0 * 8).loadUnaligned(as: Int64.self)) != nil }
            guard fits else {
                throw CheckpointError.unsupportedDType(file: path, tensor: name, dtype: "int64 with values outside the int32 range")
            }
        }
        return TensorData(dtype: dtype, view: view)
    }

    static func isContiguous(_ size: [Int], _ stride: [Int]) -> Bool {
        var expected = 1
        for d in stride.indices.reversed() where size[d] != 1 {
            if stride[d] != expected { return false }
            expected *= size[d]
        }
        return true
    }
}
