import CDNNL

/// Errors raised by tensor operations on caller-supplied shapes and types.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(op: String, lhs: [Int], rhs: [Int])
    case dtypeMismatch(op: String, expected: DType, got: DType)
    case invalidArgument(op: String, message: String)
    case backend(op: String, status: Int)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, lhs, rhs): return "\(op): shapes \(lhs) and \(rhs) do not match"
        case let .dtypeMismatch(op, e, g): return "\(op): expected dtype \(e.rawValue), got \(g.rawValue)"
        case let .invalidArgument(op, m): return "\(op): \(m)"
        case let .backend(op, s): return "\(op): oneDNN failed with status \(s)"
        }
    }
}

/// fp32 GEMM through oneDNN, row-major, as BLAS defines it:
/// `C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C`, where `op(X)` is X or Xᵀ.
///
/// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored (so a strided view whose rows
/// are contiguous needs no copy). With `transA`, A is stored [K, M]; with `transB`, B is [N, K].
public enum GEMM {
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        SignalShield.run {
            unshieldedSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                            beta: beta, c: c, ldc: ldc)
        }
    }

    /// ``sgemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` for a caller already inside
    /// ``SignalShield/run(_:)``.
    private static func unshieldedSgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            else if beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
            return
        }
        let status = dnnl_sgemm(transA ? 84 : 78, transB ? 84 : 78, Int64(m), Int64(n), Int64(k), alpha,
                                a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc))
        precondition(status == dnnl_success, "dnnl_sgemm failed (\(status)) for m=\(m) n=\(n) k=\(k)")
    }

    /// `count` independent GEMMs with the same shapes, matrix `i` at `a + i·strideA` (etc.).
    /// Attention uses this over batch × heads; large per-matrix work keeps each call efficient.
    public static func sgemmBatched(
        count: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, strideA: Int,
        b: UnsafePointer<Float>, ldb: Int, strideB: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int
    ) {
        SignalShield.run {
            for i in 0..<count {
                unshieldedSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                      a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb,
                      beta: beta, c: c + i * strideC, ldc: ldc)
            }
        }
    }
}

/// A GEMM `C[m, n] = A[m, k] · B[n, k]ᵀ` on buffers of its own, for measuring the GEMM rate
/// (`glm bench`): f32 through oneDNN's sgemm, or bf16 inputs with f32 output.
public struct GEMMProblem: @unchecked Sendable {
    public let m: Int, n: Int, k: Int
    public let dtype: DType
    let a: Tensor, b: Tensor, c: Tensor

    public init(m: Int, n: Int, k: Int, dtype: DType = .f32) {
        precondition(dtype == .f32 || dtype == .bf16, "GEMMProblem runs f32 or bf16")
        self.m = m; self.n = n; self.k = k; self.dtype = dtype
        a = Tensor.full([m, k], 0.5).converted(to: dtype)
        b = Tensor.full([n, k], 0.25).converted(to: dtype)
        c = Tensor(uninitialized: [m, n])
    }

    /// FLOPs of one run: 2·m·n·k.
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    /// Runs the product once.
    public func run() {
        if dtype == .bf16 {
            Backend.current.matmulBF16(transA: false, transB: true, m: m, n: n, k: k, a: a.halfBits, lda: k, b: b.halfBits, ldb: k,
                                       c: c.floats, ldc: n, accumulate: false)
        } else {
            Backend.current.sgemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a.floats, lda: k, b: b.floats, ldb: k,
                                  beta: 0, c: c.floats, ldc: n)
        }
    }
}
