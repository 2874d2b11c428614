/// An n-dimensional array: a shape, a dtype and a strided view into a ``Storage``.
///
/// Tensors are values that share storage: `reshape`, `transposed` and `slice` are views (no copy);
/// ``contiguous()`` materialises a view. Kernels and GEMMs take contiguous tensors, or row-strided
/// ones where they accept a leading dimension. A tensor produced by a recording op carries a
/// ``GradNode`` so that ``backward()`` can reach it.
public struct Tensor: @unchecked Sendable {
    public let storage: Storage
    public let shape: [Int]
    /// Element strides, one per dimension.
    public let strides: [Int]
    /// Offset of element [0, …, 0] in elements of `dtype`.
    public let offset: Int
    public let dtype: DType
    /// The autograd node that produced this tensor, or the leaf node of a parameter.
    public internal(set) var gradNode: GradNode?

    /// Number of elements.
    @inlinable public var count: Int { shape.reduce(1, *) }
    @inlinable public var rank: Int { shape.count }
    /// True when this tensor takes part in autograd.
    @inlinable public var requiresGrad: Bool { gradNode != nil }

    /// Row-major strides of `shape`.
    @inlinable public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    public var isContiguous: Bool { strides == Self.contiguousStrides(shape) || count <= 1 }

    public init(storage: Storage, shape: [Int], strides: [Int]? = nil, offset: Int = 0, dtype: DType) {
        self.storage = storage
        self.shape = shape
        self.strides = strides ?? Self.contiguousStrides(shape)
        self.offset = offset
        self.dtype = dtype
        self.gradNode = nil
    }

    /// An uninitialised tensor from the buffer pool.
    public init(uninitialized shape: [Int], dtype: DType = .f32) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.init(storage: Storage(byteCount: shape.reduce(1, *) * dtype.size), shape: shape, dtype: dtype)
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], dtype: DType = .f32) -> Tensor {
        let t = Tensor(uninitialized: shape, dtype: dtype)
        t.storage.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: t.count * dtype.size)
        return t
    }

    /// A tensor filled with `value`.
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.floats.update(repeating: value, count: t.count)
        return t
    }

    /// A float tensor holding `values` (row-major).
    public init(_ values: [Float], shape: [Int]) throws {
        guard values.count == shape.reduce(1, *) else {
            throw TensorError.invalidArgument(op: "Tensor.init", message: "\(values.count) values for shape \(shape)")
        }
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { floats.update(from: $0.baseAddress!, count: values.count) }
    }

    /// An i32 tensor holding `values` (row-major).
    public init(int32 values: [Int32], shape: [Int]) throws {
        guard values.count == shape.reduce(1, *) else {
            throw TensorError.invalidArgument(op: "Tensor.init", message: "\(values.count) values for shape \(shape)")
        }
        self.init(uninitialized: shape, dtype: .i32)
        values.withUnsafeBufferPointer { int32s.update(from: $0.baseAddress!, count: values.count) }
    }

    // MARK: Raw access (contiguous tensors; internal invariants, hence preconditions)

    /// Pointer to element [0, …] as f32.
    @inlinable public var floats: UnsafeMutablePointer<Float> {
        precondition(dtype == .f32, "expected f32, got \(dtype)")
        return storage.pointer.assumingMemoryBound(to: Float.self) + offset
    }
    @inlinable public var int32s: UnsafeMutablePointer<Int32> {
        precondition(dtype == .i32, "expected i32, got \(dtype)")
        return storage.pointer.assumingMemoryBound(to: Int32.self) + offset
    }
    /// Pointer to element [0, …] as 16-bit patterns (bf16 or f16).
    @inlinable public var halfBits: UnsafeMutablePointer<UInt16> {
        precondition(dtype == .bf16 || dtype == .f16, "expected a 16-bit dtype, got \(dtype)")
        return storage.pointer.assumingMemoryBound(to: UInt16.self) + offset
    }

    /// The elements as f32, row-major (converting bf16/f16/i32, gathering strided views).
    public func toArray() -> [Float] {
        let c = contiguous().converted(to: .f32)
        return Array(UnsafeBufferPointer(start: c.floats, count: c.count))
    }

    /// The elements of an i32 tensor, row-major.
    public func toInt32Array() -> [Int32] {
        precondition(dtype == .i32, "expected i32, got \(dtype)")
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.int32s, count: c.count))
    }

    /// The value of a one-element tensor.
    public var item: Float { toArray()[0] }

    // MARK: Views

    /// The same elements in a new shape (one dimension may be -1). Views contiguous tensors;
    /// copies otherwise.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var s = newShape
        let known = s.filter { $0 != -1 }.reduce(1, *)
        if let i = s.firstIndex(of: -1) {
            guard known > 0, count % known == 0, s.filter({ $0 == -1 }).count == 1 else {
                throw TensorError.shapeMismatch(op: "reshape", lhs: shape, rhs: newShape)
            }
            s[i] = count / known
        }
        guard s.reduce(1, *) == count, s.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.shapeMismatch(op: "reshape", lhs: shape, rhs: newShape)
        }
        let base = isContiguous ? self : contiguous()
        let t = Tensor(storage: base.storage, shape: s, offset: base.offset, dtype: dtype)
        if let node = gradNode, Autograd.isRecording { return Autograd.recordReshape(t, input: node, inputShape: shape) }
        return t
    }

    /// A view with dimensions `a` and `b` swapped (e.g. [b, s, n, d] → [b, n, s, d] for heads).
    public func transposed(_ a: Int, _ b: Int) throws -> Tensor {
        guard a >= 0, b >= 0, a < rank, b < rank else {
            throw TensorError.invalidArgument(op: "transpose", message: "dims \(a), \(b) out of range for shape \(shape)")
        }
        var sh = shape, st = strides
        sh.swapAt(a, b); st.swapAt(a, b)
        return Tensor(storage: storage, shape: sh, strides: st, offset: offset, dtype: dtype)
    }

    /// A view of `range` along dimension `dim` (e.g. the last tokens of a sequence).
    public func slice(_ dim: Int, _ range: Range<Int>) throws -> Tensor {
        guard dim >= 0, dim < rank, range.lowerBound >= 0, range.upperBound <= shape[dim] else {
            throw TensorError.invalidArgument(op: "slice", message: "range \(range) of dim \(dim) out of bounds for shape \(shape)")
        }
        var sh = shape
        sh[dim] = range.count
        return Tensor(storage: storage, shape: sh, strides: strides, offset: offset + range.lowerBound * strides[dim], dtype: dtype)
    }

    /// A contiguous copy (or `self` when already contiguous).
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        let out = Tensor(uninitialized: shape, dtype: dtype)
        let es = dtype.size
        let src = storage.pointer, dst = out.storage.pointer
        // Copy innermost rows at a time; the inner dimension of GLM views is contiguous (stride 1).
        let inner = shape.last ?? 1, innerStride = strides.last ?? 1
        let outer = count / max(inner, 1)
        var idx = [Int](repeating: 0, count: max(rank - 1, 0))
        for o in 0..<outer {
            var base = offset
            for d in 0..<idx.count { base += idx[d] * strides[d] }
            if innerStride == 1 {
                (dst + o * inner * es).copyMemory(from: src + base * es, byteCount: inner * es)
            } else {
                for j in 0..<inner {
                    (dst + (o * inner + j) * es).copyMemory(from: src + (base + j * innerStride) * es, byteCount: es)
                }
            }
            var d = idx.count - 1
            while d >= 0 { idx[d] += 1; if idx[d] < shape[d] { break }; idx[d] = 0; d -= 1 }
        }
        return out
    }

    /// A detached copy: same values, new storage, no autograd history.
    public func copy() -> Tensor {
        let c = contiguous()
        let out = Tensor(uninitialized: shape, dtype: dtype)
        out.storage.pointer.copyMemory(from: c.storage.pointer + c.offset * dtype.size, byteCount: count * dtype.size)
        return out
    }

    /// This tensor without its autograd history (shares storage).
    public func detached() -> Tensor {
        Tensor(storage: storage, shape: shape, strides: strides, offset: offset, dtype: dtype)
    }
}
