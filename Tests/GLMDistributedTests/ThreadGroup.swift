import Foundation
import GLMDistributed

/// An in-process stand-in for MPI in tests: `size` communicators, one per thread, whose
/// collectives meet at barriers and read each other's buffers. Sums run in rank order (as MPI's
/// for two ranks), so results are deterministic. ``run(_:_:)`` runs a body on every rank.
final class ThreadGroup: @unchecked Sendable {
    let size: Int
    private let cond = NSCondition()
    private var generation = 0, arrived = 0
    private var slots: [UnsafeMutableRawPointer?]
    private var byteSlots: [[UInt8]]
    private var mailbox: [String: [UInt8]] = [:]

    init(size: Int) {
        self.size = size
        slots = Array(repeating: nil, count: size)
        byteSlots = Array(repeating: [], count: size)
    }

    /// Writes one rank's slot (under the lock: concurrent writes to one Swift array race).
    func deposit(_ rank: Int, pointer: UnsafeMutableRawPointer? = nil, bytes: [UInt8]? = nil) {
        cond.lock()
        if let pointer { slots[rank] = pointer }
        if let bytes { byteSlots[rank] = bytes }
        cond.unlock()
    }

    /// The slots, read under the lock after a barrier.
    func read() -> (pointers: [UnsafeMutableRawPointer?], bytes: [[UInt8]]) {
        cond.lock(); defer { cond.unlock() }
        return (slots, byteSlots)
    }

    func barrier() {
        cond.lock()
        let g = generation
        arrived += 1
        if arrived == size { arrived = 0; generation += 1; cond.broadcast() } else { while g == generation { cond.wait() } }
        cond.unlock()
    }

    func post(_ bytes: [UInt8], from: Int, to: Int, tag: Int) {
        cond.lock()
        mailbox["\(from)-\(to)-\(tag)", default: []] += bytes
        cond.broadcast()
        cond.unlock()
    }

    func take(_ count: Int, from: Int, to: Int, tag: Int) -> [UInt8] {
        let key = "\(from)-\(to)-\(tag)"
        cond.lock()
        while (mailbox[key]?.count ?? 0) < count { cond.wait() }
        let out = Array(mailbox[key]![..<count])
        mailbox[key]!.removeFirst(count)
        cond.unlock()
        return out
    }

    /// Runs `body(communicator)` on `size` threads and returns each rank's result (or error).
    static func run<T>(_ size: Int, _ body: @escaping (Communicator) throws -> T) -> [Result<T, Error>] {
        let group = ThreadGroup(size: size)
        let results = ResultBox<T>(size)
        let work = UncheckedSendable(body)
        let threads = (0..<size).map { r in
            Thread {
                let comm = ThreadCommunicator(group: group, rank: r)
                results.set(r, Result { try work.value(comm) })
            }
        }
        for t in threads { t.stackSize = 8 << 20; t.start() }
        while !results.complete { usleep(1000) }
        return results.values
    }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Result<T, Error>?]
    init(_ n: Int) { items = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ r: Result<T, Error>) { lock.lock(); items[i] = r; lock.unlock() }
    var complete: Bool { lock.lock(); defer { lock.unlock() }; return items.allSatisfy { $0 != nil } }
    var values: [Result<T, Error>] { lock.lock(); defer { lock.unlock() }; return items.map { $0! } }
}

final class ThreadCommunicator: Communicator {
    let group: ThreadGroup
    let rank: Int
    var size: Int { group.size }
    var hostName: String { "thread-\(rank)" }
    var stopNote = ""

    init(group: ThreadGroup, rank: Int) { self.group = group; self.rank = rank }

    /// Every rank deposits `buffer`, then `compute` reads all deposits into private results,
    /// then `commit` writes this rank's buffer.
    private func exchange<R>(_ buffer: UnsafeMutableRawPointer, compute: ([UnsafeMutableRawPointer]) -> R, commit: (R) -> Void) {
        group.deposit(rank, pointer: buffer)
        group.barrier()
        let r = compute(group.read().pointers.map { $0! })
        group.barrier()
        commit(r)
        group.barrier()
    }

    private func sum<T: FloatingPoint>(_ b: UnsafeMutablePointer<T>, range: Range<Int>, _ op: (T, T) -> T = (+)) {
        exchange(UnsafeMutableRawPointer(b), compute: { all -> [T] in
            range.map { i in all.dropFirst().reduce(all[0].assumingMemoryBound(to: T.self)[i]) { op($0, $1.assumingMemoryBound(to: T.self)[i]) } }
        }, commit: { v in for (k, i) in range.enumerated() { b[i] = v[k] } })
    }

    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws { sum(buffer, range: 0..<count) }
    func allReduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws { sum(buffer, range: 0..<count) }
    func allReduceMax(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws { sum(buffer, range: 0..<count) { Swift.max($0, $1) } }

    func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, counts: [Int]) throws {
        let offset = counts[..<rank].reduce(0, +)
        sum(buffer, range: offset..<(offset + counts[rank]))
    }

    func allGather(_ buffer: UnsafeMutablePointer<Float>, counts: [Int]) throws {
        exchange(UnsafeMutableRawPointer(buffer), compute: { all -> [[Float]] in
            var o = 0
            return counts.enumerated().map { r, n in
                defer { o += n }
                return Array(UnsafeBufferPointer(start: all[r].assumingMemoryBound(to: Float.self) + o, count: n))
            }
        }, commit: { parts in
            var o = 0
            for p in parts { for (k, x) in p.enumerated() { buffer[o + k] = x }; o += p.count }
        })
    }

    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        exchange(buffer, compute: { all in Array(UnsafeRawBufferPointer(start: all[root], count: bytes)) },
                 commit: { v in if rank != root { v.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes) } } })
    }

    func allGather(bytes: [UInt8]) throws -> [[UInt8]] {
        group.deposit(rank, bytes: bytes)
        group.barrier()
        let all = group.read().bytes
        group.barrier()
        return all
    }

    func send(_ buffer: UnsafeRawPointer, bytes: Int, to: Int, tag: Int) throws {
        group.post(Array(UnsafeRawBufferPointer(start: buffer, count: bytes)), from: rank, to: to, tag: tag)
    }

    func receive(_ buffer: UnsafeMutableRawPointer, bytes: Int, from: Int, tag: Int) throws {
        let b = group.take(bytes, from: from, to: rank, tag: tag)
        b.withUnsafeBytes { if bytes > 0 { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes) } }
    }

    func barrier() throws { group.barrier() }
    func abort(_ code: Int32) -> Never { fatalError("abort(\(code)) in a thread group") }
    func finish() {}
    func unwatched<T>(_ body: () throws -> T) rethrows -> T { try body() }
}
