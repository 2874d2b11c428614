#if MPI
import CMPI
import Foundation

/// ``Communicator`` over MPI (`MPI_COMM_WORLD`), for processes started by `mpirun`.
///
/// MPI is initialised with `MPI_THREAD_FUNNELED`: only the thread that created the communicator
/// calls MPI (the kernels' worker threads and the watchdog never do). Errors are returned rather
/// than fatal (`MPI_ERRORS_RETURN`), so a failed collective becomes a ``DistributedError`` that
/// names the operation, the rank and MPI's reason; callers print it and ``abort(_:)``, which
/// ends every rank. Every collective runs under the ``CollectiveWatchdog``.
///
/// Counts above MPI's 32-bit `int` are split into pieces (all-reduce, broadcast, messages);
/// reduce-scatter and all-gather parts must each fit (callers cut buffers into buckets).
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let hostName: String
    public let watchdog: CollectiveWatchdog
    private let world: MPI_Comm
    private var finished = false

    /// Largest piece handed to one MPI call, in elements.
    static let maxPiece = Int(Int32.max) / 8

    /// Initialises MPI (once per process). `timeout`: seconds one collective may wait before the
    /// watchdog ends the process (0: never).
    public init(timeout: Double) throws {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            let rc = MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided)
            guard rc == cmpi_success() else { throw DistributedError.communication("MPI_Init_thread failed (\(rc))") }
        }
        world = cmpi_comm_world()
        MPI_Comm_set_errhandler(world, cmpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &s)
        rank = Int(r)
        size = Int(s)
        var name = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var len: Int32 = 0
        MPI_Get_processor_name(&name, &len)
        hostName = String(decoding: name.prefix(Int(len)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        watchdog = CollectiveWatchdog(timeout: timeout, who: "rank \(r) (\(hostName))")
    }

    /// Throws a ``DistributedError/communication(_:)`` naming `op` when `rc` is not MPI_SUCCESS.
    private func check(_ rc: Int32, _ op: String) throws {
        guard rc != cmpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var len: Int32 = 0
        MPI_Error_string(rc, &text, &len)
        let reason = String(decoding: text.prefix(Int(len)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw DistributedError.communication("\(op) failed on rank \(rank) (\(hostName)): \(reason) — a rank died or the network failed")
    }

    /// Runs `body` over `count` elements in pieces MPI's `int` counts can hold.
    private func pieces(_ count: Int, _ body: (_ offset: Int, _ n: Int32) throws -> Void) throws {
        var o = 0
        repeat {
            let n = Swift.min(Self.maxPiece, count - o)
            try body(o, Int32(n))
            o += n
        } while o < count
    }

    private func int32Counts(_ counts: [Int], _ op: String) throws -> [Int32] {
        guard counts.count == size else { throw DistributedError.invalid("\(op): \(counts.count) parts for \(size) ranks") }
        return try counts.map {
            guard $0 >= 0, $0 <= Int(Int32.max) else { throw DistributedError.invalid("\(op): part of \($0) elements exceeds MPI's 32-bit count; use smaller buckets") }
            return Int32($0)
        }
    }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        try watchdog.watch("all-reduce of \(count) floats") {
            try pieces(count) { o, n in
                try check(MPI_Allreduce(cmpi_in_place(), buffer + o, n, cmpi_float(), cmpi_sum(), world), "MPI_Allreduce")
            }
        }
    }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws {
        try watchdog.watch("all-reduce of \(count) doubles") {
            try pieces(count) { o, n in
                try check(MPI_Allreduce(cmpi_in_place(), buffer + o, n, cmpi_double(), cmpi_sum(), world), "MPI_Allreduce")
            }
        }
    }

    public func allReduceMax(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws {
        try watchdog.watch("all-reduce (max) of \(count) doubles") {
            try pieces(count) { o, n in
                try check(MPI_Allreduce(cmpi_in_place(), buffer + o, n, cmpi_double(), cmpi_max(), world), "MPI_Allreduce")
            }
        }
    }

    public func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, counts: [Int]) throws {
        let c = try int32Counts(counts, "reduce-scatter")
        let mine = counts[rank], offset = counts[..<rank].reduce(0, +)
        // MPI_IN_PLACE would leave the result at the start of the buffer; a scratch part keeps it in place.
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, mine))
        defer { scratch.deallocate() }
        try watchdog.watch("reduce-scatter of \(counts.reduce(0, +)) floats") {
            try check(MPI_Reduce_scatter(buffer, scratch, c, cmpi_float(), cmpi_sum(), world), "MPI_Reduce_scatter")
        }
        (buffer + offset).update(from: scratch, count: mine)
    }

    public func allGather(_ buffer: UnsafeMutablePointer<Float>, counts: [Int]) throws {
        let c = try int32Counts(counts, "all-gather")
        var displs: [Int32] = []
        var o = 0
        for n in counts {
            guard o <= Int(Int32.max) else { throw DistributedError.invalid("all-gather: offset \(o) exceeds MPI's 32-bit displacements; use smaller buckets") }
            displs.append(Int32(o)); o += n
        }
        try watchdog.watch("all-gather of \(o) floats") {
            try check(MPI_Allgatherv(cmpi_in_place(), 0, cmpi_float(), buffer, c, displs, cmpi_float(), world), "MPI_Allgatherv")
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        try watchdog.watch("broadcast of \(bytes) bytes from rank \(root)") {
            try pieces(bytes) { o, n in
                try check(MPI_Bcast(buffer + o, n, cmpi_byte(), Int32(root), world), "MPI_Bcast")
            }
        }
    }

    public func allGather(bytes: [UInt8]) throws -> [[UInt8]] {
        var lengths = [Int32](repeating: 0, count: size)
        guard bytes.count <= Int(Int32.max) / Swift.max(1, size) else { throw DistributedError.invalid("all-gather of \(bytes.count) bytes is too large") }
        var mine = Int32(bytes.count)
        try watchdog.watch("all-gather of lengths") {
            try check(MPI_Allgather(&mine, 1, cmpi_int32(), &lengths, 1, cmpi_int32(), world), "MPI_Allgather")
        }
        var displs: [Int32] = []
        var total: Int32 = 0
        for l in lengths { displs.append(total); total += l }
        var out = [UInt8](repeating: 0, count: Swift.max(1, Int(total)))
        let src = bytes.isEmpty ? [0] : bytes   // a valid address even for 0 bytes
        try watchdog.watch("all-gather of \(total) bytes") {
            try check(MPI_Allgatherv(src, mine, cmpi_byte(), &out, lengths, displs, cmpi_byte(), world), "MPI_Allgatherv")
        }
        return (0..<size).map { Array(out[Int(displs[$0])..<Int(displs[$0] + lengths[$0])]) }
    }

    public func send(_ buffer: UnsafeRawPointer, bytes: Int, to: Int, tag: Int) throws {
        try watchdog.watch("send of \(bytes) bytes to rank \(to)") {
            try pieces(bytes) { o, n in
                try check(MPI_Send(buffer + o, n, cmpi_byte(), Int32(to), Int32(tag), world), "MPI_Send")
            }
        }
    }

    public func receive(_ buffer: UnsafeMutableRawPointer, bytes: Int, from: Int, tag: Int) throws {
        try watchdog.watch("receive of \(bytes) bytes from rank \(from)") {
            try pieces(bytes) { o, n in
                try check(MPI_Recv(buffer + o, n, cmpi_byte(), Int32(from), Int32(tag), world, cmpi_status_ignore()), "MPI_Recv")
            }
        }
    }

    public func barrier() throws {
        try watchdog.watch("barrier") { try check(MPI_Barrier(world), "MPI_Barrier") }
    }

    public func abort(_ code: Int32) -> Never {
        MPI_Abort(world, code)
        exit(code)
    }

    public var stopNote: String {
        get { watchdog.note }
        set { watchdog.note = newValue }
    }

    public func unwatched<T>(_ body: () throws -> T) rethrows -> T { try watchdog.suspended(body) }

    public func finish() {
        guard !finished else { return }
        finished = true
        MPI_Finalize()
    }
}
#endif
