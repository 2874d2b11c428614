/// All trainable parameters of a model in one contiguous f32 buffer, their gradients in another.
///
/// Contiguity makes the whole-model passes single loops: zeroing gradients, the global grad norm
/// and clipping, the AdamW update, checkpointing, and (later) one all-reduce over the gradient
/// buffer. Each ``Parameter`` is a view into both buffers.
public final class ParameterStore: @unchecked Sendable {
    /// Every parameter, in registration order (the order of the buffers).
    public let parameters: [Parameter]
    /// Values `[totalCount]` and gradients `[totalCount]`.
    public let values: Tensor
    public let grads: Tensor
    /// bf16 copies of the values, for bf16 matmuls; refreshed by ``refreshBF16()``.
    public private(set) var bf16Values: Tensor?
    public let totalCount: Int
    private let index: [String: Int]

    /// Reserves one slot per `(name, shape)`; values start at zero (initialise them afterwards).
    public init(_ specs: [(name: String, shape: [Int])]) throws {
        var offsets: [Int] = []
        var total = 0
        var seen: [String: Int] = [:]
        for (i, s) in specs.enumerated() {
            guard seen[s.name] == nil else {
                throw TensorError.invalidArgument(op: "ParameterStore", message: "duplicate parameter name \(s.name)")
            }
            seen[s.name] = i
            offsets.append(total)
            // Keep every parameter 16-float aligned so SIMD kernels see aligned starts.
            total += (s.shape.reduce(1, *) + 15) / 16 * 16
        }
        totalCount = total
        let values = Tensor.zeros([total]), grads = Tensor.zeros([total])
        self.values = values
        self.grads = grads
        index = seen
        parameters = specs.enumerated().map { i, s in
            Parameter(name: s.name, shape: s.shape, offset: offsets[i], values: values, grads: grads)
        }
    }

    /// The parameter called `name`, or nil.
    public subscript(name: String) -> Parameter? { index[name].map { parameters[$0] } }

    /// Sets every gradient to zero (one pass over the gradient buffer).
    public func zeroGrad() { grads.floats.update(repeating: 0, count: totalCount) }

    /// Recomputes ``bf16Values`` from the f32 master values (after each optimizer step).
    public func refreshBF16() {
        let b = bf16Values ?? Tensor(uninitialized: [totalCount], dtype: .bf16)
        Backend.current.f32ToBF16(values.floats, b.halfBits, count: totalCount)
        bf16Values = b
        for p in parameters {
            p.bf16 = Tensor(storage: b.storage, shape: p.shape, offset: p.offset, dtype: .bf16)
        }
    }

    /// Drops the bf16 copies (a run without bf16 matmuls).
    public func dropBF16() {
        bf16Values = nil
        for p in parameters { p.bf16 = nil }
    }
}

/// One named parameter: a view of the store's value buffer, with a leaf autograd node whose
/// gradient is the matching view of the gradient buffer.
public final class Parameter: @unchecked Sendable {
    /// The checkpoint key (e.g. `transformer.layers.0.attention.query_key_value.weight`).
    public let name: String
    public let shape: [Int]
    /// Offset in the store's buffers, in elements.
    public let offset: Int
    /// The value, recording gradients into ``grad``.
    public let value: Tensor
    /// The accumulated gradient.
    public let grad: Tensor
    /// bf16 copy of the value when the store keeps one.
    public internal(set) var bf16: Tensor?

    init(name: String, shape: [Int], offset: Int, values: Tensor, grads: Tensor) {
        self.name = name
        self.shape = shape
        self.offset = offset
        let g = Tensor(storage: grads.storage, shape: shape, offset: offset, dtype: .f32)
        var v = Tensor(storage: values.storage, shape: shape, offset: offset, dtype: .f32)
        v.gradNode = GradNode(leaf: name, grad: g)
        value = v
        grad = g
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Copies `source` (any dtype, same element count) into the value.
    public func load(_ source: [Float]) throws {
        guard source.count == count else {
            throw TensorError.invalidArgument(op: "Parameter.load", message: "\(name): \(source.count) values for shape \(shape)")
        }
        source.withUnsafeBufferPointer { value.floats.update(from: $0.baseAddress!, count: count) }
    }
}
