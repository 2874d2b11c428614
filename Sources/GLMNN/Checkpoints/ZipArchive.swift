import GLMSystem
/// The read side of the zip container `torch.save` writes (PyTorch ≥ 1.6): stored (uncompressed)
/// entries, Zip64 when the file or an entry passes 4 GiB.
///
/// Only the central directory is parsed; entry data are located through each entry's local header
/// and returned as byte ranges of the memory-mapped file, never copied.
struct ZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let flags: UInt16
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    let file: MappedFile
    let entries: [String: Entry]
    let names: [String]

    static let eocdSignature: UInt32 = 0x0605_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    static let zip64EOCDSignature: UInt32 = 0x0606_4B50
    static let centralSignature: UInt32 = 0x0201_4B50
    static let localSignature: UInt32 = 0x0403_4B50

    /// Whether the mapping starts like a zip archive ("PK\u{3}\u{4}").
    static func looksLikeZip(_ file: MappedFile) -> Bool {
        file.count >= 4 && (try? ByteReader(bytes: file.bytes, file: file.path).u32(0)) == localSignature
    }

    init(_ file: MappedFile) throws {
        self.file = file
        let path = file.path
        let r = ByteReader(bytes: file.bytes, file: path)
        // The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KiB;
        // scan backwards for its signature.
        var eocd = -1
        var p = file.count - 22
        let lowest = max(0, file.count - 22 - 65535)
        while p >= lowest {
            if file.bytes[p] == 0x50, try r.u32(p) == ZipArchive.eocdSignature,
               p + 22 + Int(try r.u16(p + 20)) == file.count {
                eocd = p
                break
            }
            p -= 1
        }
        guard eocd >= 0 else {
            throw CheckpointError.truncated(file: path, detail: "no zip end-of-central-directory record (the file was cut short or is not a zip)")
        }
        var count = Int(try r.u16(eocd + 10))
        var cdSize = Int(try r.u32(eocd + 12))
        var cdOffset = Int(try r.u32(eocd + 16))
        // Zip64: a locator sits right before the classic record and points at the Zip64 record,
        // whose 64-bit fields replace the saturated 0xFFFF / 0xFFFFFFFF ones.
        if eocd >= 20, try r.u32(eocd - 20) == ZipArchive.zip64LocatorSignature {
            let z = try r.u64(eocd - 20 + 8)
            guard z <= UInt64(file.count), try r.u32(Int(z)) == ZipArchive.zip64EOCDSignature else {
                throw CheckpointError.corruptHeader(file: path, detail: "Zip64 locator points at \(z), where there is no Zip64 end record")
            }
            let zo = Int(z)
            count = try checkedInt(r.u64(zo + 32), path, "Zip64 entry count")
            cdSize = try checkedInt(r.u64(zo + 40), path, "Zip64 central directory size")
            cdOffset = try checkedInt(r.u64(zo + 48), path, "Zip64 central directory offset")
        }
        guard cdOffset <= file.count, cdSize <= file.count - cdOffset else {
            throw CheckpointError.truncated(file: path, detail: "central directory at \(cdOffset)+\(cdSize) lies past the end (\(file.count) bytes)")
        }
        var entries: [String: Entry] = [:]
        var names: [String] = []
        var o = cdOffset
        for _ in 0..<count {
            guard try r.u32(o) == ZipArchive.centralSignature else {
                throw CheckpointError.corruptHeader(file: path, detail: "central directory entry at \(o) has a bad signature")
            }
            let flags = try r.u16(o + 8)
            let method = try r.u16(o + 10)
            var compressed = UInt64(try r.u32(o + 20))
            var size = UInt64(try r.u32(o + 24))
            let nameLength = Int(try r.u16(o + 28))
            let extraLength = Int(try r.u16(o + 30))
            let commentLength = Int(try r.u16(o + 32))
            var local = UInt64(try r.u32(o + 42))
            try r.require(o + 46, nameLength + extraLength, "a central directory name")
            let name = String(decoding: file.bytes[(o + 46)..<(o + 46 + nameLength)], as: UTF8.self)
            // Zip64 extended information: only the saturated fields are present, in this order.
            var e = o + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = try r.u16(e), len = Int(try r.u16(e + 2))
                if id == 0x0001 {
                    var f = e + 4
                    if size == 0xFFFF_FFFF { size = try r.u64(f); f += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = try r.u64(f); f += 8 }
                    if local == 0xFFFF_FFFF { local = try r.u64(f); f += 8 }
                    guard f <= e + 4 + len else {
                        throw CheckpointError.corruptHeader(file: path, detail: "entry '\(name)' has a short Zip64 extra field")
                    }
                }
                e += 4 + len
            }
            let entry = Entry(name: name, method: method, flags: flags,
                              compressedSize: try checkedInt(compressed, path, "size of '\(name)'"),
                              size: try checkedInt(size, path, "size of '\(name)'"),
                              localHeaderOffset: try checkedInt(local, path, "offset of '\(name)'"))
            entries[name] = entry
            names.append(name)
            o += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
        self.names = names
    }

    /// The byte range of an entry's data inside the mapping.
    ///
    /// - Throws: `compressedEntry` for deflated or encrypted entries, `truncated` when the data run past the end.
    func dataRange(of name: String) throws -> Range<Int> {
        let path = file.path
        guard let entry = entries[name] else {
            throw CheckpointError.corruptHeader(file: path, detail: "zip entry '\(name)' is missing")
        }
        guard entry.method == 0, entry.flags & 1 == 0, entry.compressedSize == entry.size else {
            throw CheckpointError.compressedEntry(file: path, entry: name, method: Int(entry.method))
        }
        let r = ByteReader(bytes: file.bytes, file: path)
        let o = entry.localHeaderOffset
        guard try r.u32(o) == ZipArchive.localSignature else {
            throw CheckpointError.corruptHeader(file: path, detail: "local header of '\(name)' at \(o) has a bad signature")
        }
        // The local header's own name/extra lengths (they may differ from the central copy: torch
        // pads the local extra field so that tensor data are 64-byte aligned).
        let start = o + 30 + Int(try r.u16(o + 26)) + Int(try r.u16(o + 28))
        try r.require(start, entry.size, "data of zip entry '\(name)'")
        return start..<(start + entry.size)
    }

    /// An entry's bytes (valid while the mapping lives).
    func data(of name: String) throws -> UnsafeRawBufferPointer {
        let range = try dataRange(of: name)
        return UnsafeRawBufferPointer(rebasing: file.bytes[range])
    }
}

func checkedInt(_ v: UInt64, _ path: String, _ what: String) throws -> Int {
    guard v <= UInt64(Int.max) else {
        throw CheckpointError.corruptHeader(file: path, detail: "\(what) \(v) is out of range")
    }
    return Int(v)
}
