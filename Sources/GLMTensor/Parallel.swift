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

/// Runs `body` over `0..<count` split into contiguous chunks, one per worker thread.
///
/// Work smaller than `minChunk` items per thread runs inline: waking a thread costs microseconds,
/// more than a small kernel. `body` receives disjoint ranges that together cover `0..<count`.
@inlinable
public func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let threads = min(kernelThreadCount, max(1, count / max(1, minChunk)))
    if threads == 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = count * t / threads, hi = count * (t + 1) / threads
            if lo < hi { box.value(lo..<hi) }
        }
    }
}

/// Carries a non-Sendable closure into `concurrentPerform`; see ``parallelFor(_:minChunk:_:)``.
@usableFromInline
struct UncheckedBox<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}
