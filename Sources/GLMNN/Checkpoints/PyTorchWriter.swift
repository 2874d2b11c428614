import Foundation
import GLMSystem
import GLMTensor

extension PyTorchCheckpoint {
    /// What the pickled object of a written checkpoint is.
    public enum Layout: Sendable, Equatable {
        /// The state dict itself (an `OrderedDict`), like `torch.save(model.state_dict())` and the HF
        /// `pytorch_model.bin`.
        case stateDict
        /// `{"module": state_dict, "iteration": n}`, like the official `mp_rank_00_model_states.pt`.
        case official(iteration: Int)
    }

    /// Writes `tensors` in the `torch.save` zip format, loadable by `torch.load` (including with
    /// `weights_only=True`, since it only references `collections.OrderedDict`,
    /// `torch._utils._rebuild_tensor_v2` and storage types) and by ``read(_:)``.
    ///
    /// One storage per tensor, keys sorted, records stored uncompressed with data 64-byte aligned as
    /// torch writes them; Zip64 records are used when an entry or offset passes 4 GiB, or always
    /// with `zip64: true`. The file is written under a temporary name and renamed into place.
    ///
    /// - Throws: ``CheckpointError/io(file:detail:)``.
    public static func write(_ tensors: [String: TensorData], to url: URL, layout: Layout = .stateDict,
                             zip64: Bool = false) throws {
        let names = tensors.keys.sorted()
        var p = PickleWriter()
        p.proto()
        if case .official = layout {
            p.op(0x7D)                       // EMPTY_DICT
            p.op(0x28)                       // MARK
            p.string("module")
        }
        p.global("collections", "OrderedDict"); p.op(0x29); p.op(0x52)  // OrderedDict()
        if !names.isEmpty {
            p.op(0x28)
            for (i, name) in names.enumerated() {
                let t = tensors[name]!
                p.string(name)
                p.global("torch._utils", "_rebuild_tensor_v2")
                p.op(0x28)
                // Persistent id ('storage', storage type, key, location, numel).
                p.op(0x28); p.string("storage"); p.global("torch", storageName(t.dtype)); p.string(String(i)); p.string("cpu"); p.int(t.count); p.op(0x74)
                p.op(0x51)                   // BINPERSID
                p.int(0)                     // storage offset
                p.tuple(t.shape.map { $0 })
                p.tuple(contiguousStrides(t.shape))
                p.op(0x89)                   // requires_grad = False
                p.global("collections", "OrderedDict"); p.op(0x29); p.op(0x52)  // backward hooks
                p.op(0x74)                   // TUPLE of the arguments
                p.op(0x52)                   // REDUCE
            }
            p.op(0x75)                       // SETITEMS
        }
        if case .official(let iteration) = layout {
            p.string("iteration"); p.int(iteration)
            p.op(0x75)
        }
        p.op(0x2E)                           // STOP

        try CheckpointError.mapping {
            let zip = try ZipWriter(url, forceZip64: zip64)
            let prefix = "archive/"
            try zip.add(prefix + "data.pkl", bytes: p.bytes)
            try zip.add(prefix + "byteorder", bytes: Array("little".utf8))
            for (i, name) in names.enumerated() {
                try tensors[name]!.withUnsafeBytes { try zip.add(prefix + "data/\(i)", bytes: $0) }
            }
            try zip.add(prefix + "version", bytes: Array("3\n".utf8))
            try zip.finish()
        }
    }

    /// Writes the official GLM layout into `folder`: `<tag>/mp_rank_00_model_states.pt` holding
    /// `{"module": tensors, "iteration": iteration}`, then `latest_checkpointed_iteration.txt`
    /// containing `tag` (written last, so the tracker never points at a missing checkpoint).
    public static func writeOfficial(_ tensors: [String: TensorData], to folder: URL, tag: String = "release",
                                     iteration: Int = 0) throws {
        let tagFolder = folder.appendingPathComponent(tag)
        do {
            try FileManager.default.createDirectory(at: tagFolder, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.io(file: tagFolder.path, detail: "cannot create the folder: \(error.localizedDescription)")
        }
        try write(tensors, to: tagFolder.appendingPathComponent("mp_rank_00_model_states.pt"), layout: .official(iteration: iteration))
        try CheckpointError.mapping {
            try AtomicFile.write(Data(tag.utf8), to: folder.appendingPathComponent("latest_checkpointed_iteration.txt"))
        }
    }

    static func storageName(_ d: DType) -> String {
        switch d {
        case .f32: return "FloatStorage"
        case .f16: return "HalfStorage"
        case .bf16: return "BFloat16Storage"
        case .i32: return "IntStorage"
        }
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for d in shape.indices.reversed() { strides[d] = s; s *= max(shape[d], 1) }
        return strides
    }
}

/// A streaming writer of stored (uncompressed) zip entries, with Zip64 where needed.
final class ZipWriter {
    private let file: AtomicFile
    private let forceZip64: Bool
    private var central: [UInt8] = []
    private var count = 0

    init(_ url: URL, forceZip64: Bool) throws {
        file = try AtomicFile(url)
        self.forceZip64 = forceZip64
    }

    func add(_ name: String, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try add(name, bytes: $0) }
    }

    func add(_ name: String, bytes data: UnsafeRawBufferPointer) throws {
        let nameBytes = Array(name.utf8)
        let crc = crc32(data)
        let offset = file.offset
        let big = forceZip64 || data.count >= 0xFFFF_FFFF
        var extra: [UInt8] = []
        if big { extra.le(UInt16(1)); extra.le(UInt16(16)); extra.le(UInt64(data.count)); extra.le(UInt64(data.count)) }
        // Pad with an extra field (id "FB", as torch does) so the data start 64-byte aligned.
        let unpadded = offset + 30 + nameBytes.count + extra.count + 4
        let pad = (64 - unpadded % 64) % 64
        extra.le(UInt16(0x4246)); extra.le(UInt16(pad)); extra += [UInt8](repeating: 0x5A, count: pad)
        var local: [UInt8] = []
        local.le(ZipArchive.localSignature)
        local.le(UInt16(big ? 45 : 20)); local.le(UInt16(0)); local.le(UInt16(0))   // version, flags, method
        local.le(UInt16(0)); local.le(UInt16(0x21))                                 // time, date (1980-01-01)
        local.le(crc)
        local.le(UInt32(big ? 0xFFFF_FFFF : data.count)); local.le(UInt32(big ? 0xFFFF_FFFF : data.count))
        local.le(UInt16(nameBytes.count)); local.le(UInt16(extra.count))
        try file.write(local + nameBytes + extra)
        try file.write(data)

        let offsetBig = forceZip64 || offset >= 0xFFFF_FFFF
        var cextra: [UInt8] = []
        if big || offsetBig {
            var fields: [UInt8] = []
            if big { fields.le(UInt64(data.count)); fields.le(UInt64(data.count)) }
            if offsetBig { fields.le(UInt64(offset)) }
            cextra.le(UInt16(1)); cextra.le(UInt16(fields.count)); cextra += fields
        }
        central.le(ZipArchive.centralSignature)
        central.le(UInt16(45)); central.le(UInt16(big || offsetBig ? 45 : 20))
        central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt16(0x21))
        central.le(crc)
        central.le(UInt32(big ? 0xFFFF_FFFF : data.count)); central.le(UInt32(big ? 0xFFFF_FFFF : data.count))
        central.le(UInt16(nameBytes.count)); central.le(UInt16(cextra.count)); central.le(UInt16(0))
        central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt32(0))
        central.le(UInt32(offsetBig ? 0xFFFF_FFFF : offset))
        central += nameBytes + cextra
        count += 1
    }

    func finish() throws {
        let cdOffset = file.offset
        try file.write(central)
        let needs64 = forceZip64 || count >= 0xFFFF || cdOffset >= 0xFFFF_FFFF || central.count >= 0xFFFF_FFFF
        var tail: [UInt8] = []
        if needs64 {
            let recordOffset = file.offset
            tail.le(ZipArchive.zip64EOCDSignature); tail.le(UInt64(44))
            tail.le(UInt16(45)); tail.le(UInt16(45)); tail.le(UInt32(0)); tail.le(UInt32(0))
            tail.le(UInt64(count)); tail.le(UInt64(count)); tail.le(UInt64(central.count)); tail.le(UInt64(cdOffset))
            tail.le(ZipArchive.zip64LocatorSignature); tail.le(UInt32(0)); tail.le(UInt64(recordOffset)); tail.le(UInt32(1))
        }
        tail.le(ZipArchive.eocdSignature); tail.le(UInt16(0)); tail.le(UInt16(0))
        tail.le(UInt16(needs64 ? 0xFFFF : count)); tail.le(UInt16(needs64 ? 0xFFFF : count))
        tail.le(UInt32(needs64 ? 0xFFFF_FFFF : central.count)); tail.le(UInt32(needs64 ? 0xFFFF_FFFF : cdOffset))
        tail.le(UInt16(0))
        try file.write(tail)
        try file.commit()
    }
}

private let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

/// CRC-32 (IEEE, as zip uses).
func crc32(_ data: UnsafeRawBufferPointer) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    crcTable.withUnsafeBufferPointer { table in
        for b in data { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    }
    return c ^ 0xFFFF_FFFF
}
