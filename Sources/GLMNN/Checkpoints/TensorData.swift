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
        /// A view of a storage in a mapped file, gathered (and converted) only when its bytes are
        /// read: a checkpoint's unused or oversized views cost nothing until then.
        case strided(StridedView)
    }

    /// Number of bytes: `shape.product × dtype.size`.
    public var byteCount: Int {
        switch storage {
        case .owned(let b): return b.count
        case .mapped(_, _, let c): return c
        case .strided(let v): return v.count * dtype.size
        }
    }

    /// Number of elements: the product of `shape` (1 for a scalar).
    public var count: Int { TensorData.elementCount(shape) ?? 0 }

    /// The product of `shape` without overflow: 0 when any dimension is 0, nil when a dimension is
    /// negative or the product passes `Int.max` (shapes read from files are checked with this).
    public static func elementCount(_ shape: [Int]) -> Int? {
        if shape.contains(0) { return shape.allSatisfy { $0 >= 0 } ? 0 : nil }
        return CheckedSize.product(shape)
    }

    /// Calls `body` with the raw little-endian bytes (valid only inside `body`).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .owned(let b): return try b.withUnsafeBytes(body)
        case .mapped(let file, let offset, let count):
            return try body(UnsafeRawBufferPointer(rebasing: file.bytes[offset..<(offset + count)]))
        case .strided(let v):
            return try v.gather(into: dtype).withUnsafeBytes(body)
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
        guard let n = TensorData.elementCount(shape), CheckedSize.product([n, dtype.size]) == bytes.count else {
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

    /// A lazily gathered view; the caller has checked its bounds and its byte count.
    init(dtype: DType, view: StridedView) {
        self.dtype = dtype
        self.shape = view.size
        storage = .strided(view)
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

/// A strided view of a torch storage inside a mapped file (`_rebuild_tensor_v2(storage, offset,
/// size, stride)`), with every index it reaches already checked to lie inside the storage.
struct StridedView: Sendable {
    let file: MappedFile
    /// Byte offset of the view's first element.
    let start: Int
    let size: [Int]
    let stride: [Int]
    let source: StorageDType
    /// Elements: the product of `size` (checked, and its byte size too).
    let count: Int

    /// The elements in row-major order, converted to `dtype` (f64 rounds to f32; integers become
    /// i32, and i64 values were checked to fit when the view was made).
    func gather(into dtype: DType) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count * dtype.size)
        guard count > 0 else { return out }
        out.withUnsafeMutableBytes { dst in
            forEachElement { i, s in
                switch source {
                case .f32, .i32: dst.storeBytes(of: s.loadUnaligned(as: UInt32.self), toByteOffset: 4 * i, as: UInt32.self)
                case .f16, .bf16: dst.storeBytes(of: s.loadUnaligned(as: UInt16.self), toByteOffset: 2 * i, as: UInt16.self)
                case .f64: dst.storeBytes(of: Float(s.loadUnaligned(as: Double.self)).bitPattern, toByteOffset: 4 * i, as: UInt32.self)
                case .i64: dst.storeBytes(of: Int32(truncatingIfNeeded: s.loadUnaligned(as: Int64.self)), toByteOffset: 4 * i, as: Int32.self)
                case .i16: dst.storeBytes(of: Int32(s.loadUnaligned(as: Int16.self)), toByteOffset: 4 * i, as: Int32.self)
                case .i8: dst.storeBytes(of: Int32(s.loadUnaligned(as: Int8.self)), toByteOffset: 4 * i, as: Int32.self)
                case .u8, .bool: dst.storeBytes(of: Int32(s.loadUnaligned(as: UInt8.self)), toByteOffset: 4 * i, as: Int32.self)
                }
                return true
            }
        }
        return out
    }

    /// Whether every int64 the view reads fits in an int32 (read in place, nothing allocated).
    func int64ValuesFitInt32() -> Bool {
        var fits = true
        forEachElement { _, s in
            fits = Int32(exactly: s.loadUnaligned(as: Int64.self)) != nil
            return fits
        }
        return fits
    }

    /// Calls `body(i, address)` for each element in row-major order until it returns false.
    private func forEachElement(_ body: (Int, UnsafeRawPointer) -> Bool) {
        guard count > 0, let raw = file.bytes.baseAddress else { return }
        let esize = source.size, rank = size.count
        var index = [Int](repeating: 0, count: rank)
        var at = start
        for i in 0..<count {
            if !body(i, raw + at) { return }
            // Advance the multi-index, innermost dimension first.
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                at += stride[d] * esize
                if index[d] < size[d] { break }
                at -= stride[d] * esize * index[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}
