import Foundation

/// A size-bucketed pool of 64-byte-aligned buffers.
///
/// A training step allocates the same activation sizes every step; taking fresh pages from the OS
/// each time costs a page fault per 4 KiB. Released buffers go back to a free list keyed by their
/// size class and are handed out again, so steady-state steps allocate nothing.
public final class BufferPool: @unchecked Sendable {
    /// The process-wide pool that ``Storage`` uses.
    public static let shared = BufferPool()

    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private let lock = NSLock()
    /// Bytes currently parked in free lists.
    public private(set) var bytesFree = 0
    /// Allocations served from a free list, and those that went to the system allocator.
    public private(set) var hits = 0, misses = 0

    /// Fill released buffers with NaN bit patterns (debugging and tests; `GLM_POOL_POISON=1`).
    public var poison = ProcessInfo.processInfo.environment["GLM_POOL_POISON"] == "1"

    public init() {}

    /// Size classes: 4 steps per power of two above 4 KiB (≤ 25% waste), 64-byte steps below.
    @inlinable
    public static func sizeClass(_ bytes: Int) -> Int {
        if bytes <= 4096 { return max(64, (bytes + 63) & ~63) }
        let p = Int.bitWidth - (bytes - 1).leadingZeroBitCount   // 2^p ≥ bytes
        let step = 1 << (p - 3)
        return (bytes + step - 1) / step * step
    }

    /// A buffer of at least `bytes` bytes (its size class), uninitialised.
    public func allocate(_ bytes: Int) -> (pointer: UnsafeMutableRawPointer, capacity: Int) {
        let size = Self.sizeClass(bytes)
        lock.lock()
        if var list = free[size], let p = list.popLast() {
            free[size] = list
            bytesFree -= size
            hits += 1
            lock.unlock()
            return (p, size)
        }
        misses += 1
        lock.unlock()
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, 64, size)
        guard status == 0, let raw else { fatalError("out of memory allocating \(size) bytes") }
        return (raw, size)
    }

    /// Returns a buffer obtained from ``allocate(_:)``.
    public func release(_ pointer: UnsafeMutableRawPointer, capacity: Int) {
        // Poisoning makes a use of freed memory show up as NaN instead of stale, plausible values.
        if poison { pointer.initializeMemory(as: UInt8.self, repeating: 0xFF, count: capacity) }
        lock.lock()
        free[capacity, default: []].append(pointer)
        bytesFree += capacity
        lock.unlock()
    }

    /// Gives every parked buffer back to the system (e.g. after a job with different shapes).
    public func trim() {
        lock.lock()
        for (_, list) in free { for p in list { Foundation.free(p) } }
        free.removeAll()
        bytesFree = 0
        lock.unlock()
    }
}

/// The memory behind one or more ``Tensor`` views.
///
/// Pooled storage returns to ``BufferPool/shared`` when the last view is gone; external storage
/// (a memory-mapped checkpoint, a caller's buffer) runs its own deallocator.
public final class Storage: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int
    private let deallocator: Deallocator

    enum Deallocator {
        case pool(capacity: Int)
        case custom(@Sendable (UnsafeMutableRawPointer) -> Void)
        case none
    }

    /// Uninitialised pooled memory of `byteCount` bytes.
    public init(byteCount: Int) {
        let (p, cap) = BufferPool.shared.allocate(max(byteCount, 1))
        pointer = p
        self.byteCount = byteCount
        deallocator = .pool(capacity: cap)
    }

    /// Wraps memory owned elsewhere; `deallocate` (if any) runs when the storage dies.
    public init(external pointer: UnsafeMutableRawPointer, byteCount: Int,
                deallocate: (@Sendable (UnsafeMutableRawPointer) -> Void)? = nil) {
        self.pointer = pointer
        self.byteCount = byteCount
        deallocator = deallocate.map { .custom($0) } ?? .none
    }

    deinit {
        switch deallocator {
        case let .pool(capacity): BufferPool.shared.release(pointer, capacity: capacity)
        case let .custom(f): f(pointer)
        case .none: break
        }
    }
}
