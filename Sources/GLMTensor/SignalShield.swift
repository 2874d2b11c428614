import Foundation

/// Keeps handled signals away from threads inside oneDNN's GEMM kernels.
///
/// oneDNN 2.x's JIT f32 GEMM kernels (`jit_avx512_common_gemm_f32`, `jit_avx_gemm_f32`) point the
/// stack pointer into a heap workspace while they run (oneDNN issue #4845, fixed in 3.11; Debian
/// ships 2.6). A signal that runs a handler on such a thread has the kernel write its signal
/// frame there: the heap is corrupted, and a later `free` aborts ("corrupted size vs.
/// prev_size"). Training installs handlers (SIGINT, SIGTERM, SIGUSR1: stop after this step), so
/// a stop request could kill the run it asked to stop cleanly.
///
/// Asynchronous signals are therefore blocked on the calling thread for the length of each oneDNN
/// call (two `pthread_sigmask` calls, well under a microsecond against a GEMM's tens of
/// microseconds or more), and for good in OpenMP's worker threads, which run the same kernels and
/// never need to take a signal: the process still receives every signal — another thread takes
/// it, or the calling thread once the GEMM returns. Synchronous signals (SIGSEGV, SIGBUS, SIGFPE,
/// SIGILL, SIGTRAP, SIGSYS) and SIGABRT stay unblocked so crashes still report.
public enum SignalShield {
    /// Every signal a thread may block except the synchronous ones.
    static let asynchronous: sigset_t = {
        var set = sigset_t()
        sigfillset(&set)
        for s in [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT] { sigdelset(&set, s) }
        return set
    }()

    /// Marks the threads whose OpenMP workers are shielded (libgomp keeps one pool of workers per
    /// thread that starts parallel regions: the training thread, a server's decoding thread).
    private static let shieldedPool: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// Blocks the asynchronous signals in this thread's OpenMP workers, once per thread: a
    /// parallel region as wide as any the process runs, in which every thread but the caller
    /// blocks them. Workers libgomp starts later (a wider region) are started from a shielded
    /// oneDNN call and inherit the mask.
    static func shieldWorkers() {
        guard pthread_getspecific(shieldedPool) == nil else { return }
        pthread_setspecific(shieldedPool, UnsafeRawPointer(bitPattern: 1))
        guard let omp = OpenMP.runtime else { return }
        let width = max(kernelThreadCount, Int(omp.maxThreads()))
        guard width > 1 else { return }
        omp.parallel({ _ in
            guard let rt = OpenMP.runtime, rt.threadNum() != 0 else { return }
            var set = SignalShield.asynchronous
            pthread_sigmask(SIG_BLOCK, &set, nil)
        }, nil, UInt32(width), 0)
    }

    /// Runs `body` (a oneDNN call) with the asynchronous signals blocked on this thread.
    @inline(__always)
    public static func run<T>(_ body: () throws -> T) rethrows -> T {
        shieldWorkers()
        var set = asynchronous, saved = sigset_t()
        pthread_sigmask(SIG_BLOCK, &set, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }
}
