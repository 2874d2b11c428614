/// The compute operations that ``Ops`` run on, behind one protocol so that a second backend
/// (a GPU) can be added by implementing it, without touching ``Ops`` callers or any model.
///
/// Pointers are device addresses of a ``Storage``; for ``CPUBackend`` that is host memory.
/// Shapes and semantics are those of ``CPUKernels``, ``GEMM`` and ``BF16Matmul``, each
/// documented there with its reference implementation in ``ReferenceKernels``.
public protocol ComputeBackend: Sendable {
    /// A short name for logs and benchmarks.
    var name: String { get }
    func adamW(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double, step: Int, gradScale: Float)
    func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int)
    func addBias(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, n: Int, c: Int)
    func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int)
    func bf16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int)
    func biasBackward(dY: UnsafePointer<Float>, dBias: UnsafeMutablePointer<Float>, n: Int, c: Int)
    func clipGradNorm(_ buffer: UnsafeMutablePointer<Float>, count: Int, maxNorm: Float) -> Float
    func crossEntropyForwardBackward(logits: UnsafePointer<Float>, ldLogits: Int?, targets: UnsafePointer<Int32>, lossMask: UnsafePointer<Float>, n: Int, V: Int, losses: UnsafeMutablePointer<Float>, dLogits: UnsafeMutablePointer<Float>?, ldDLogits: Int?, gradScale: Float, labelSmoothing: Float) -> (lossSum: Double, maskSum: Double)
    func dropoutBackward(dY: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, mask: UnsafePointer<UInt8>?, count: Int, p: Float, seed: UInt64, offset: UInt64)
    func dropoutForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<UInt8>?, count: Int, p: Float, seed: UInt64, offset: UInt64)
    func embeddingBackward(ids: UnsafePointer<Int32>, count: Int, dOut: UnsafePointer<Float>, dWeight: UnsafeMutablePointer<Float>, h: Int)
    func embeddingForward(ids: UnsafePointer<Int32>, count: Int, weight: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, h: Int)
    func f16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int)
    func f32ToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int)
    func f32ToF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int)
    func geluBackward(_ x: UnsafePointer<Float>, dY: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, count: Int, approximation: GELUApproximation)
    func geluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, approximation: GELUApproximation)
    func layerNormBackward(dY: UnsafePointer<Float>, _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>, rows: Int, cols: Int)
    func layerNormForward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, rows: Int, cols: Int, eps: Float)
    func scale(_ x: UnsafeMutablePointer<Float>, count: Int, factor: Float)
    func softmaxBackward(probs: UnsafePointer<Float>, dProbs: UnsafePointer<Float>, dScores: UnsafeMutablePointer<Float>, rows: Int, cols: Int, scale: Float)
    func softmaxMaskedForward(_ scores: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, batch: Int, heads: Int, sq: Int, sk: Int, scale: Float, maskBatchStride: Int?)
    func softmaxSepForward(_ scores: UnsafeMutablePointer<Float>, batch: Int, heads: Int, sq: Int, sk: Int, sep: UnsafePointer<Int32>, scale: Float)
    func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double
    func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int)
    func attentionDecode(q: UnsafePointer<Float>, ldq: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rowStride: Int, rows: UnsafePointer<Int>, totals: UnsafePointer<Int>, b: Int, heads: Int, d: Int, h: Int, scale: Float, out: UnsafeMutablePointer<Float>)
    func gemv(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int)
    func gemvBF16(x: UnsafePointer<Float>, w: UnsafePointer<UInt16>, y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int)
    func matmulBF16(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool)
}

extension ComputeBackend {
    /// Cross-entropy without label smoothing (the pretraining loss and the cloze heads).
    @inlinable public func crossEntropyForwardBackward(logits: UnsafePointer<Float>, ldLogits: Int?, targets: UnsafePointer<Int32>, lossMask: UnsafePointer<Float>, n: Int, V: Int, losses: UnsafeMutablePointer<Float>, dLogits: UnsafeMutablePointer<Float>?, ldDLogits: Int?, gradScale: Float) -> (lossSum: Double, maskSum: Double) {
        crossEntropyForwardBackward(logits: logits, ldLogits: ldLogits, targets: targets, lossMask: lossMask, n: n, V: V, losses: losses, dLogits: dLogits, ldDLogits: ldDLogits, gradScale: gradScale, labelSmoothing: 0)
    }
}

/// The CPU backend: SIMD kernels threaded over all cores, GEMMs through oneDNN.
public struct CPUBackend: ComputeBackend {
    public init() {}
    public var name: String { "cpu (oneDNN + SIMD, \(kernelThreadCount) threads)" }
    @inlinable public func adamW(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double, step: Int, gradScale: Float) {
        CPUKernels.adamW(params: params, grads: grads, m: m, v: v, count: count, lr: lr, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, step: step, gradScale: gradScale)
    }
    @inlinable public func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        CPUKernels.add(a, b, out, count: count)
    }
    @inlinable public func addBias(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, n: Int, c: Int) {
        CPUKernels.addBias(x, bias: bias, n: n, c: c)
    }
    @inlinable public func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        CPUKernels.addInPlace(x, y, count: count)
    }
    @inlinable public func bf16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        CPUKernels.bf16ToF32(src, dst, count: count)
    }
    @inlinable public func biasBackward(dY: UnsafePointer<Float>, dBias: UnsafeMutablePointer<Float>, n: Int, c: Int) {
        CPUKernels.biasBackward(dY: dY, dBias: dBias, n: n, c: c)
    }
    @inlinable public func clipGradNorm(_ buffer: UnsafeMutablePointer<Float>, count: Int, maxNorm: Float) -> Float {
        return CPUKernels.clipGradNorm(buffer, count: count, maxNorm: maxNorm)
    }
    @inlinable public func crossEntropyForwardBackward(logits: UnsafePointer<Float>, ldLogits: Int?, targets: UnsafePointer<Int32>, lossMask: UnsafePointer<Float>, n: Int, V: Int, losses: UnsafeMutablePointer<Float>, dLogits: UnsafeMutablePointer<Float>?, ldDLogits: Int?, gradScale: Float, labelSmoothing: Float) -> (lossSum: Double, maskSum: Double) {
        return CPUKernels.crossEntropyForwardBackward(logits: logits, ldLogits: ldLogits, targets: targets, lossMask: lossMask, n: n, V: V, losses: losses, dLogits: dLogits, ldDLogits: ldDLogits, gradScale: gradScale, labelSmoothing: labelSmoothing)
    }
    @inlinable public func dropoutBackward(dY: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, mask: UnsafePointer<UInt8>?, count: Int, p: Float, seed: UInt64, offset: UInt64) {
        CPUKernels.dropoutBackward(dY: dY, dX: dX, mask: mask, count: count, p: p, seed: seed, offset: offset)
    }
    @inlinable public func dropoutForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<UInt8>?, count: Int, p: Float, seed: UInt64, offset: UInt64) {
        CPUKernels.dropoutForward(x, y, mask: mask, count: count, p: p, seed: seed, offset: offset)
    }
    @inlinable public func embeddingBackward(ids: UnsafePointer<Int32>, count: Int, dOut: UnsafePointer<Float>, dWeight: UnsafeMutablePointer<Float>, h: Int) {
        CPUKernels.embeddingBackward(ids: ids, count: count, dOut: dOut, dWeight: dWeight, h: h)
    }
    @inlinable public func embeddingForward(ids: UnsafePointer<Int32>, count: Int, weight: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, h: Int) {
        CPUKernels.embeddingForward(ids: ids, count: count, weight: weight, out: out, h: h)
    }
    @inlinable public func f16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        CPUKernels.f16ToF32(src, dst, count: count)
    }
    @inlinable public func f32ToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        CPUKernels.f32ToBF16(src, dst, count: count)
    }
    @inlinable public func f32ToF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        CPUKernels.f32ToF16(src, dst, count: count)
    }
    @inlinable public func geluBackward(_ x: UnsafePointer<Float>, dY: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, count: Int, approximation: GELUApproximation) {
        CPUKernels.geluBackward(x, dY: dY, dX: dX, count: count, approximation: approximation)
    }
    @inlinable public func geluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, approximation: GELUApproximation) {
        CPUKernels.geluForward(x, y, count: count, approximation: approximation)
    }
    @inlinable public func layerNormBackward(dY: UnsafePointer<Float>, _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        CPUKernels.layerNormBackward(dY: dY, x, weight: weight, mean: mean, rstd: rstd, dX: dX, dWeight: dWeight, dBias: dBias, rows: rows, cols: cols)
    }
    @inlinable public func layerNormForward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, rows: Int, cols: Int, eps: Float) {
        CPUKernels.layerNormForward(x, weight: weight, bias: bias, y, mean: mean, rstd: rstd, rows: rows, cols: cols, eps: eps)
    }
    @inlinable public func scale(_ x: UnsafeMutablePointer<Float>, count: Int, factor: Float) {
        CPUKernels.scale(x, count: count, factor: factor)
    }
    @inlinable public func softmaxBackward(probs: UnsafePointer<Float>, dProbs: UnsafePointer<Float>, dScores: UnsafeMutablePointer<Float>, rows: Int, cols: Int, scale: Float) {
        CPUKernels.softmaxBackward(probs: probs, dProbs: dProbs, dScores: dScores, rows: rows, cols: cols, scale: scale)
    }
    @inlinable public func softmaxMaskedForward(_ scores: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, batch: Int, heads: Int, sq: Int, sk: Int, scale: Float, maskBatchStride: Int?) {
        CPUKernels.softmaxMaskedForward(scores, mask: mask, batch: batch, heads: heads, sq: sq, sk: sk, scale: scale, maskBatchStride: maskBatchStride)
    }
    @inlinable public func softmaxSepForward(_ scores: UnsafeMutablePointer<Float>, batch: Int, heads: Int, sq: Int, sk: Int, sep: UnsafePointer<Int32>, scale: Float) {
        CPUKernels.softmaxSepForward(scores, batch: batch, heads: heads, sq: sq, sk: sk, sep: sep, scale: scale)
    }
    @inlinable public func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        return CPUKernels.sumOfSquares(x, count: count)
    }
    @inlinable public func attentionDecode(q: UnsafePointer<Float>, ldq: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rowStride: Int, rows: UnsafePointer<Int>, totals: UnsafePointer<Int>, b: Int, heads: Int, d: Int, h: Int, scale: Float, out: UnsafeMutablePointer<Float>) {
        CPUKernels.attentionDecode(q: q, ldq: ldq, keys: keys, values: values, rowStride: rowStride, rows: rows, totals: totals, b: b, heads: heads, d: d, h: h, scale: scale, out: out)
    }
    @inlinable public func gemv(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int) {
        CPUKernels.gemv(x: x, w: w, y: y, m: m, n: n, k: k)
    }
    @inlinable public func gemvBF16(x: UnsafePointer<Float>, w: UnsafePointer<UInt16>, y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int) {
        CPUKernels.gemvBF16(x: x, w: w, y: y, m: m, n: n, k: k)
    }
    @inlinable public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        GEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
    @inlinable public func matmulBF16(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        BF16Matmul.matmul(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
    }
}

/// The backend every op uses.
public enum Backend {
    nonisolated(unsafe) private static var active: any ComputeBackend = CPUBackend()
    /// The current backend; set it once at start-up, before running any op.
    public static var current: any ComputeBackend {
        get { active }
        set { active = newValue }
    }
}

