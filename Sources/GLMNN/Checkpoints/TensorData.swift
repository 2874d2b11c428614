import GLMSystem
import GLMTensor

/// One tensor as read from a checkpoint: its dtype, its shape and its little-endian, row-major,
/// contiguous bytes.
///
/// The bytes are either owned or a slice of a memory-mapped file (``SafeTensors/read(_:)``,
/// ``PyTorchCheckpoint/read(_:)``); a slice keeps the mapping alive, so a loaded state dict costs no
/// copy until a model converts it into its own storage.
public struct TensorData: Sendable {
    /// Element type of the bytes.
    public let dtype: DType
    /// Dimensions, outermost first; `[]` is a scalar.
    public let shape: [Int]
    private let storage: Storage

    private enum Storage: Sendable {
        case owned([UInt8])
        case mapped(MappedFile, offset: Int, count: Int)
    }

    /// Number of bytes: `shape.product × dtype.size`.
    public var byteCount: Int {
        switch storage {
        case .owned(let b): return b.count
        case .mapped(_, _, let c): return c
        }
    }

    /// Number of elements: the product of `shape` (1 for a scalar).
    public var count: Int { shape.reduce(1, *) }

    /// Calls `body` with the raw little-endian bytes (valid only inside `body`).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .owned(let b): return try b.withUnsafeBytes(body)
        case .mapped(let file, let offset, let count):
            return try body(UnsafeRawBufferPointer(rebasing: file.bytes[offset..<(offset + count)]))
        }
    }

    /// The values as `Float`: f32 copied, f16 and bf16 widened exactly, i32 converted.
    public func floats() -> [Float] {
        let n = count
        return withUnsafeBytes { raw -> [Float] in
            switch dtype {
            case .f32:
                return [Float](unsafeUninitializedCapacity: n) { buf, done in
                    if n > 0 { UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: raw.baseAddress!, byteCount: n * 4) }
                    done = n
                }
            case .f16:
                return (0..<n).map { halfToFloat(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
            case .bf16:
                return (0..<n).map { Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) << 16) }
            case .i32:
                return (0..<n).map { Float(raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
            }
        }
    }

    /// The same values in another dtype (through `Float`; rounding as in ``init(dtype:shape:floats:)``).
    /// Returns `self` unchanged, without copying, when the dtype already matches.
    public func converted(to target: DType) -> TensorData {
        target == dtype ? self : TensorData(dtype: target, shape: shape, floats: floats())
    }

    /// A tensor of `dtype` holding `floats` (rounded to nearest-even for f16/bf16, truncated toward zero for i32).
    ///
    /// - Precondition: `floats.count` equals the product of `shape` (a programming error otherwise).
    public init(dtype: DType, shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "TensorData: \(floats.count) values for shape \(shape)")
        self.dtype = dtype
        self.shape = shape
        var bytes = [UInt8](repeating: 0, count: floats.count * dtype.size)
        bytes.withUnsafeMutableBytes { raw in
            for (i, x) in floats.enumerated() {
                switch dtype {
                case .f32: raw.storeBytes(of: x.bitPattern, toByteOffset: 4 * i, as: UInt32.self)
                case .f16: raw.storeBytes(of: floatToHalf(x), toByteOffset: 2 * i, as: UInt16.self)
                case .bf16: raw.storeBytes(of: floatToBFloat16(x), toByteOffset: 2 * i, as: UInt16.self)
                case .i32: raw.storeBytes(of: Int32(x), toByteOffset: 4 * i, as: Int32.self)
                }
            }
        }
        storage = .owned(bytes)
    }

    /// A tensor over existing little-endian bytes.
    ///
    /// - Throws: ``CheckpointError/corruptHeader(file:detail:)`` (file `<memory>`) when the byte count
    ///   is not `shape.product × dtype.size` or a dimension is negative.
    public init(dtype: DType, shape: [Int], bytes: [UInt8]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) * dtype.size == bytes.count else {
            throw CheckpointError.corruptHeader(file: "<memory>",
                                                detail: "\(bytes.count) bytes cannot hold \(dtype) \(shape)")
        }
        self.dtype = dtype
        self.shape = shape
        storage = .owned(bytes)
    }

    /// A slice of a mapping; the caller has checked bounds and size.
    init(dtype: DType, shape: [Int], file: MappedFile, offset: Int) {
        self.dtype = dtype
        self.shape = shape
        storage = .mapped(file, offset: offset, count: shape.reduce(1, *) * dtype.size)
    }

    /// An owned tensor; the caller has checked that the size matches.
    init(dtype: DType, shape: [Int], owned: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        storage = .owned(owned)
    }

    /// The bytes as an array (a copy).
    var byteArray: [UInt8] { withUnsafeBytes { [UInt8]($0) } }
}

// IEEE half ↔ single, written out rather than using `Float16` because `Float16` is unavailable on
// some x86 targets; exact in the widening direction, round-to-nearest-even in the narrowing one.

@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = UInt32(h >> 10) & 0x1F
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        // Subnormal: value = mant × 2⁻²⁴.
        let v = Float(mant) * Float(bitPattern: 0x3380_0000)
        return sign != 0 ? -v : v
    }
    if exp == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
}

@inline(__always)
func floatToHalf(_ f: Float) -> UInt16 {
    let x = f.bitPattern
    let sign = UInt16((x >> 16) & 0x8000)
    let exp = Int((x >> 23) & 0xFF)
    var mant = x & 0x7F_FFFF
    if exp == 0xFF { return sign | 0x7C00 | (mant != 0 ? 0x200 : 0) }
    var e = exp - 127 + 15
    if e >= 0x1F { return sign | 0x7C00 }
    if e <= 0 {
        if e < -10 { return sign }
        mant |= 0x80_0000
        let shift = UInt32(14 - e)
        var h = mant >> shift
        let rem = mant & ((1 << shift) - 1), half = UInt32(1) << (shift - 1)
        if rem > half || (rem == half && (h & 1) == 1) { h += 1 }
        return sign | UInt16(h)
    }
    var h = mant >> 13
    let rem = mant & 0x1FFF
    if rem > 0x1000 || (rem == 0x1000 && (h & 1) == 1) {
        h += 1
        if h == 0x400 { h = 0; e += 1; if e >= 0x1F { return sign | 0x7C00 } }
    }
    return sign | UInt16(e << 10) | UInt16(h)
}

@inline(__always)
func floatToBFloat16(_ f: Float) -> UInt16 {
    let x = f.bitPattern
    if f.isNaN { return UInt16(x >> 16) | 0x40 }
    let rounded = x &+ 0x7FFF &+ ((x >> 16) & 1)
    return UInt16(rounded >> 16)
}
