import CDNNL
import Foundation

/// bf16 × bf16 → f32 matrix multiplication through oneDNN's matmul primitive.
///
/// `C[M,N] = op(A)[M,K] · op(B)[K,N]` (+ `C` when `accumulate`), row-major, with BLAS-style
/// transposes and leading dimensions, like ``GEMM/sgemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``.
/// Inputs are bf16 bit patterns (`UInt16`), accumulation and output are f32.
///
/// Creating a oneDNN primitive costs far more than running a small one, so primitives are cached
/// per (shape, strides, transposes, accumulate); a training step reuses the same few dozen.
public enum BF16Matmul {
    public static func matmul(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        let key = Key(m: m, n: n, k: k, transA: transA, transB: transB, lda: lda, ldb: ldb, ldc: ldc, accumulate: accumulate)
        DNNLContext.shared.withPrimitive(key) { p in
            p.run(a: UnsafeMutableRawPointer(mutating: a), b: UnsafeMutableRawPointer(mutating: b),
                  c: UnsafeMutableRawPointer(c), stream: DNNLContext.shared.stream)
        }
    }

    struct Key: Hashable {
        var m, n, k: Int
        var transA, transB: Bool
        var lda, ldb, ldc: Int
        var accumulate: Bool
    }
}

/// The oneDNN engine, stream and primitive cache shared by every matmul in the process.
final class DNNLContext: @unchecked Sendable {
    static let shared = DNNLContext()

    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    private var cache: [BF16Matmul.Key: MatmulPrimitive] = [:]
    private let lock = NSLock()

    private init() {
        var e: dnnl_engine_t?
        precondition(dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success, "oneDNN: no CPU engine")
        engine = e!
        var s: dnnl_stream_t?
        precondition(dnnl_stream_create(&s, engine, UInt32(dnnl_stream_default_flags.rawValue)) == dnnl_success,
                     "oneDNN: cannot create a stream")
        stream = s!
    }

    /// Runs `body` with the cached primitive for `key` while holding the lock: a oneDNN primitive's
    /// memory objects carry the data handles of one call at a time.
    func withPrimitive(_ key: BF16Matmul.Key, _ body: (MatmulPrimitive) -> Void) {
        lock.lock(); defer { lock.unlock() }
        if let p = cache[key] { body(p); return }
        let p = MatmulPrimitive(key: key, engine: engine)
        cache[key] = p
        body(p)
    }
}

/// One oneDNN matmul primitive and the memory objects it runs on.
final class MatmulPrimitive {
    let primitive: dnnl_primitive_t
    let src: dnnl_memory_t, wei: dnnl_memory_t, dst: dnnl_memory_t

    init(key: BF16Matmul.Key, engine: dnnl_engine_t) {
        func desc(_ rows: Int, _ cols: Int, _ rowStride: Int, _ colStride: Int, _ t: dnnl_data_type_t) -> dnnl_memory_desc_t {
            var md = dnnl_memory_desc_t()
            let dims: [Int64] = [Int64(rows), Int64(cols)] + Array(repeating: 0, count: 10)
            let strides: [Int64] = [Int64(rowStride), Int64(colStride)] + Array(repeating: 0, count: 10)
            let st = dims.withUnsafeBufferPointer { d in
                strides.withUnsafeBufferPointer { s in dnnl_memory_desc_init_by_strides(&md, 2, d.baseAddress, t, s.baseAddress) }
            }
            precondition(st == dnnl_success, "oneDNN: bad memory descriptor \(rows)x\(cols) strides \(rowStride),\(colStride)")
            return md
        }
        // Logical A is [M,K]; stored [K,M] when transposed, i.e. element (i,j) at j·lda + i.
        var aMD = key.transA ? desc(key.m, key.k, 1, key.lda, dnnl_bf16) : desc(key.m, key.k, key.lda, 1, dnnl_bf16)
        var bMD = key.transB ? desc(key.k, key.n, 1, key.ldb, dnnl_bf16) : desc(key.k, key.n, key.ldb, 1, dnnl_bf16)
        var cMD = desc(key.m, key.n, key.ldc, 1, dnnl_f32)
        var opDesc = dnnl_matmul_desc_t()
        precondition(dnnl_matmul_desc_init(&opDesc, &aMD, &bMD, nil, &cMD) == dnnl_success, "oneDNN: matmul descriptor")
        var attr: dnnl_primitive_attr_t?
        dnnl_primitive_attr_create(&attr)
        defer { dnnl_primitive_attr_destroy(attr) }
        if key.accumulate {
            var ops: dnnl_post_ops_t?
            dnnl_post_ops_create(&ops)
            dnnl_post_ops_append_sum(ops, 1.0)
            dnnl_primitive_attr_set_post_ops(attr, ops)
            dnnl_post_ops_destroy(ops)
        }
        var pd: dnnl_primitive_desc_t?
        let st = dnnl_primitive_desc_create(&pd, &opDesc, attr, engine, nil)
        precondition(st == dnnl_success, "oneDNN: no bf16 matmul for \(key) (status \(st))")
        defer { dnnl_primitive_desc_destroy(pd) }
        var prim: dnnl_primitive_t?
        precondition(dnnl_primitive_create(&prim, pd) == dnnl_success, "oneDNN: primitive creation")
        primitive = prim!
        func mem(_ md: inout dnnl_memory_desc_t) -> dnnl_memory_t {
            var m: dnnl_memory_t?
            precondition(dnnl_memory_create(&m, &md, engine, nil) == dnnl_success, "oneDNN: memory creation")
            return m!
        }
        src = mem(&aMD); wei = mem(&bMD); dst = mem(&cMD)
    }

    func run(a: UnsafeMutableRawPointer, b: UnsafeMutableRawPointer, c: UnsafeMutableRawPointer, stream: dnnl_stream_t) {
        dnnl_memory_set_data_handle(src, a)
        dnnl_memory_set_data_handle(wei, b)
        dnnl_memory_set_data_handle(dst, c)
        var args = [
            dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: src),
            dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: wei),
            dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: dst),
        ]
        let st = SignalShield.run {
            let st = dnnl_primitive_execute(primitive, stream, Int32(args.count), &args)
            dnnl_stream_wait(stream)
            return st
        }
        precondition(st == dnnl_success, "oneDNN: matmul execution failed (\(st))")
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_memory_destroy(src); dnnl_memory_destroy(wei); dnnl_memory_destroy(dst)
    }
}
