import Foundation

/// One recorded operation in the autograd graph (or a parameter leaf).
///
/// A node holds its inputs' nodes, the gradient flowing into its output, and a backward closure
/// that captures exactly the activations it needs. ``Tensor/backward(_:)`` runs closures in
/// reverse creation order and drops each closure (and with it those activations) right after it
/// runs, so memory falls as backward proceeds.
public final class GradNode: @unchecked Sendable {
    /// Creation order: a node is always created after its inputs, so descending ids are a valid
    /// reverse topological order.
    let id: Int
    let inputs: [GradNode?]
    let shape: [Int]
    var backwardFn: ((GradNode) -> Void)?
    /// Gradient of the loss w.r.t. this node's output; nil until something flows in.
    var grad: Tensor?
    /// For parameter leaves: the persistent gradient buffer, accumulated across backward calls.
    let leafGrad: Tensor?
    /// Name for error messages and debugging (op name or parameter name).
    public let name: String

    nonisolated(unsafe) private static var counter = 0
    private static let counterLock = NSLock()
    private static func nextID() -> Int {
        counterLock.lock(); defer { counterLock.unlock() }
        counter += 1
        return counter
    }

    init(name: String, shape: [Int], inputs: [GradNode?], backward: @escaping (GradNode) -> Void) {
        id = Self.nextID()
        self.name = name
        self.shape = shape
        self.inputs = inputs
        self.backwardFn = backward
        self.leafGrad = nil
    }

    /// A leaf whose gradient accumulates into `grad` (a parameter's slot in the gradient buffer).
    public init(leaf name: String, grad: Tensor) {
        id = Self.nextID()
        self.name = name
        self.shape = grad.shape
        self.inputs = []
        self.backwardFn = nil
        self.leafGrad = grad
    }

    /// The gradient w.r.t. input `i`, handed to `body` together with `overwrite`: true when the
    /// buffer is fresh (uninitialised) and must be written, false when it holds gradient already
    /// and `body` must add to it. Kernels pick `beta = 0` or `1` (or `=` vs `+=`) from it, which
    /// saves a zero-fill and an extra add per accumulation.
    public func withInputGrad(_ i: Int, _ body: (Tensor, _ overwrite: Bool) -> Void) {
        guard let input = inputs[i] else { return }
        if let g = input.leafGrad { body(g, false); return }
        if let g = input.grad { body(g, false); return }
        let g = Tensor(uninitialized: input.shape)
        input.grad = g
        body(g, true)
    }

    /// Hands `g` over as the gradient of input `i`: adopted without a copy when input `i` has no
    /// gradient yet, added otherwise. `g` must not be used by the caller afterwards.
    public func passInputGrad(_ i: Int, _ g: Tensor) {
        guard let input = inputs[i] else { return }
        if let d = input.leafGrad ?? input.grad {
            Backend.current.addInPlace(d.floats, g.floats, count: g.count)
        } else {
            input.grad = Tensor(storage: g.storage, shape: input.shape, offset: g.offset, dtype: .f32)
        }
    }

    /// Whether input `i` wants a gradient.
    public func needsGrad(_ i: Int) -> Bool { inputs[i] != nil }

    /// The gradient flowing into this node's output (set before its backward closure runs).
    public var outputGrad: Tensor {
        guard let g = grad else { preconditionFailure("no gradient reached \(name)") }
        return g
    }
}

/// Switches and entry points of reverse-mode autograd.
public enum Autograd {
    @TaskLocal static var noGrad = false

    /// True when ops record nodes (outside ``withNoGrad(_:)``).
    public static var isRecording: Bool { !noGrad }

    /// Runs `body` without recording: inference, evaluation, optimizer updates.
    public static func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
        try $noGrad.withValue(true) { try body() }
    }

    /// Attaches a recorded node to `output` when any input requires grad and recording is on.
    /// `backward` receives the node; it reads ``GradNode/outputGrad`` and writes input gradients
    /// through ``GradNode/withInputGrad(_:_:)``.
    public static func record(_ name: String, output: Tensor, inputs: [Tensor],
                              backward: @escaping (GradNode) -> Void) -> Tensor {
        guard isRecording, inputs.contains(where: { $0.requiresGrad }) else { return output }
        var out = output
        out.gradNode = GradNode(name: name, shape: output.shape, inputs: inputs.map { $0.gradNode }, backward: backward)
        return out
    }

    /// `t` as a leaf that requires grad, with the (zeroed) buffer its gradient accumulates into.
    public static func leaf(_ t: Tensor, name: String) -> (value: Tensor, grad: Tensor) {
        let g = Tensor.zeros(t.shape)
        var v = t.contiguous().detached()
        v.gradNode = GradNode(leaf: name, grad: g)
        return (v, g)
    }

    static func recordReshape(_ t: Tensor, input: GradNode, inputShape: [Int]) -> Tensor {
        var out = t
        out.gradNode = GradNode(name: "reshape", shape: t.shape, inputs: [input]) { node in
            let g = node.outputGrad.contiguous()
            let view = Tensor(storage: g.storage, shape: inputShape, offset: g.offset, dtype: g.dtype)
            node.withInputGrad(0) { dst, overwrite in
                if overwrite { dst.floats.update(from: view.floats, count: view.count) }
                else { Backend.current.addInPlace(dst.floats, view.floats, count: view.count) }
            }
        }
        return out
    }
}

extension Tensor {
    /// Backpropagates from this tensor. For a scalar loss `gradient` defaults to 1.
    ///
    /// Parameter gradients accumulate (+=) into their buffers, so calling `backward` for several
    /// micro-batches before an optimizer step accumulates gradients; clear them with
    /// ``ParameterStore/zeroGrad()``. The graph is consumed: a second call on the same tensor
    /// throws.
    public func backward(_ gradient: Tensor? = nil) throws {
        guard let root = gradNode else {
            throw TensorError.invalidArgument(op: "backward", message: "tensor does not require grad")
        }
        if root.leafGrad == nil && root.backwardFn == nil && root.grad == nil && !root.inputs.isEmpty {
            throw TensorError.invalidArgument(op: "backward", message: "graph already consumed by an earlier backward()")
        }
        let seed: Tensor
        if let gradient {
            guard gradient.shape == shape else {
                throw TensorError.shapeMismatch(op: "backward", lhs: shape, rhs: gradient.shape)
            }
            seed = gradient.contiguous().copy()
        } else {
            guard count == 1 else {
                throw TensorError.invalidArgument(op: "backward", message: "gradient needed for non-scalar shape \(shape)")
            }
            seed = Tensor.full(shape, 1)
        }
        if let leaf = root.leafGrad { Backend.current.addInPlace(leaf.floats, seed.floats, count: seed.count); return }
        root.grad = seed

        // Reachable nodes, processed in descending creation order.
        var seen = Set<ObjectIdentifier>()
        var order: [GradNode] = []
        var stack: [GradNode] = [root]
        while let n = stack.popLast() {
            guard seen.insert(ObjectIdentifier(n)).inserted else { continue }
            order.append(n)
            for case let i? in n.inputs where i.leafGrad == nil { stack.append(i) }
        }
        order.sort { $0.id > $1.id }
        try Autograd.withNoGrad {
            for n in order {
                guard let fn = n.backwardFn else {
                    if n.grad != nil && !n.inputs.isEmpty {
                        throw TensorError.invalidArgument(op: "backward", message: "graph already consumed at \(n.name)")
                    }
                    continue
                }
                if n.grad == nil { n.backwardFn = nil; continue }   // no gradient reached it
                fn(n)
                n.backwardFn = nil
                n.grad = nil
            }
        }
    }
}
