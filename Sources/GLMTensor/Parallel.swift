import Foundation

/// A raw pointer that may cross into the worker closures of ``parallelFor(_:minChunk:_:)``.
///
/// Kernels split their output into disjoint ranges, so no two workers write the same element;
/// that invariant, not the type system, is what makes sharing the pointer safe.
public struct SendablePointer<T>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<T>
    @inlinable public init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    @inlinable public init(_ base: UnsafePointer<T>) { self.base = UnsafeMutablePointer(mutating: base) }
    @inlinable public subscript(i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
    @inlinable public static func + (p: SendablePointer, n: Int) -> UnsafeMutablePointer<T> { p.base + n }
}

/// Number of worker threads the CPU kernels use (all online cores; `GLM_NUM_THREADS` overrides).
public let kernelThreadCount: Int = {
    if let s = ProcessInfo.processInfo.environment["GLM_NUM_THREADS"], let n = Int(s), n > 0 { return n }
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
}()

/// Gives this process its share of the cores when `processes` processes of one job run on this
/// host (data-parallel ranks): unless `GLM_NUM_THREADS` is set, the kernels get
/// `cores / processes` threads (at least 1), and unless `OMP_NUM_THREADS` is set, so do
/// oneDNN's GEMMs. Call before any kernel runs (``kernelThreadCount`` is read once).
public func shareKernelThreads(among processes: Int) {
    let env = ProcessInfo.processInfo.environment
    if env["GLM_NUM_THREADS"] == nil {
        let n = max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, processes))
        setenv("GLM_NUM_THREADS", String(n), 1)
    }
    if env["OMP_NUM_THREADS"] == nil, let handle = dlopen(nil, RTLD_NOW), let f = dlsym(handle, "omp_set_num_threads") {
        typealias SetFn = @convention(c) (Int32) -> Void
        unsafeBitCast(f, to: SetFn.self)(Int32(kernelThreadCount))
    }
}

/// Runs `body` over `0..<count` split into contiguous chunks, one per worker thread.
///
/// Work smaller than `minChunk` items per thread runs inline: waking a thread costs microseconds,
/// more than a small kernel. `body` receives disjoint ranges that together cover `0..<count`.
///
/// The workers are OpenMP's, the same pool oneDNN runs its GEMMs on: with two pools (GCD and
/// OpenMP), each one's idle-spinning threads stole the cores the other needed, and a training
/// step ran 30–45 % slower; with one pool, a kernel right after a GEMM finds the workers awake.
/// Without libgomp in the process, Dispatch runs the chunks instead.
@inlinable
public func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let threads = min(kernelThreadCount, max(1, count / max(1, minChunk)))
    if threads == 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox(body)
        if let omp = OpenMP.runtime {
            var job = OpenMP.Job(count: count, body: box)
            withUnsafeMutablePointer(to: &job) { omp.parallel(OpenMP.trampoline, $0, UInt32(threads), 0) }
        } else {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let lo = count * t / threads, hi = count * (t + 1) / threads
                if lo < hi { box.value(lo..<hi) }
            }
        }
    }
}

/// libgomp's entry points, looked up at run time (libdnnl already loaded it), so no link flags.
@usableFromInline
enum OpenMP {
    @usableFromInline typealias RegionFn = @convention(c) (UnsafeMutableRawPointer?) -> Void
    @usableFromInline typealias ParallelFn = @convention(c) (RegionFn, UnsafeMutableRawPointer?, UInt32, UInt32) -> Void
    @usableFromInline typealias IntFn = @convention(c) () -> Int32

    @usableFromInline
    struct Runtime: @unchecked Sendable {
        @usableFromInline let parallel: ParallelFn
        let threadNum: IntFn
        let numThreads: IntFn
        let maxThreads: IntFn
    }

    @usableFromInline
    struct Job {
        let count: Int
        let body: UncheckedBox<(Range<Int>) -> Void>
        @usableFromInline init(count: Int, body: UncheckedBox<(Range<Int>) -> Void>) { self.count = count; self.body = body }
    }

    @usableFromInline static let runtime: Runtime? = {
        guard let handle = dlopen(nil, RTLD_NOW),
              let p = dlsym(handle, "GOMP_parallel"), let t = dlsym(handle, "omp_get_thread_num"),
              let n = dlsym(handle, "omp_get_num_threads"), let x = dlsym(handle, "omp_get_max_threads") else { return nil }
        return Runtime(parallel: unsafeBitCast(p, to: ParallelFn.self), threadNum: unsafeBitCast(t, to: IntFn.self),
                       numThreads: unsafeBitCast(n, to: IntFn.self), maxThreads: unsafeBitCast(x, to: IntFn.self))
    }()

    /// Runs on every thread of the region: takes this thread's share of the job.
    @usableFromInline static let trampoline: RegionFn = { raw in
        guard let raw, let rt = OpenMP.runtime else { return }
        let job = raw.assumingMemoryBound(to: Job.self).pointee
        let t = Int(rt.threadNum()), n = max(1, Int(rt.numThreads()))
        let lo = job.count * t / n, hi = job.count * (t + 1) / n
        if lo < hi { job.body.value(lo..<hi) }
    }
}

/// Carries a non-Sendable closure into `concurrentPerform`; see ``parallelFor(_:minChunk:_:)``.
@usableFromInline
struct UncheckedBox<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}
