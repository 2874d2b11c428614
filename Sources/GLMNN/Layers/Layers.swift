import GLMTensor

/// `y = x·Wᵀ + b` with `weight [out, in]` and optional `bias [out]`, as `torch.nn.Linear`.
public struct Linear: Sendable {
    public let weight: Parameter
    public let bias: Parameter?

    public init(weight: Parameter, bias: Parameter?) {
        self.weight = weight
        self.bias = bias
    }

    /// Applies the layer; `bf16` runs the matmuls on the store's bf16 weight copy when present;
    /// `rowwise` computes each row on its own (decoding, see ``Ops/linear(_:weight:bias:weightBF16:rowwise:)``).
    public func callAsFunction(_ x: Tensor, bf16: Bool = false, rowwise: Bool = false) throws -> Tensor {
        try Ops.linear(x, weight: weight.value, bias: bias?.value, weightBF16: bf16 ? weight.bf16 : nil, rowwise: rowwise)
    }
}

/// Layer norm over the last dimension with learned `weight` and `bias` (eps 1e-5 as GLM).
public struct LayerNorm: Sendable {
    public let weight: Parameter
    public let bias: Parameter
    public let eps: Float

    public init(weight: Parameter, bias: Parameter, eps: Float = 1e-5) {
        self.weight = weight
        self.bias = bias
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Ops.layerNorm(x, weight: weight.value, bias: bias.value, eps: eps)
    }
}

/// A lookup table `weight [V, h]` indexed by i32 ids.
public struct Embedding: Sendable {
    public let weight: Parameter

    public init(weight: Parameter) { self.weight = weight }

    public func callAsFunction(_ ids: Tensor) throws -> Tensor {
        try Ops.embedding(ids, weight: weight.value)
    }
}

/// Where a model takes parameters from: a store with checkpoint-key names.
public enum ParameterLookupError: Error, CustomStringConvertible {
    case missing(String)
    public var description: String {
        switch self { case let .missing(n): return "parameter \(n) is not in the model's parameter store" }
    }
}

extension ParameterStore {
    /// The parameter called `name`, or a thrown error naming it.
    public func require(_ name: String) throws -> Parameter {
        guard let p = self[name] else { throw ParameterLookupError.missing(name) }
        return p
    }
}
