import Foundation

/// A group of processes that train together (data parallelism): each knows its ``rank`` among
/// ``size`` processes, and they exchange flat f32 buffers with collectives.
///
/// Every collective must be called by every rank, in the same order, with the same sizes; a rank
/// that skips one leaves the others waiting (the ``CollectiveWatchdog`` of an MPI communicator
/// ends such a wait). Buffers are raw pointers so callers can hand over any range of a
/// contiguous tensor (a bucket of the gradient buffer, a shard of the values) without a copy.
///
/// Implementations: ``LocalCommunicator`` (one process, every collective a no-op) and, in builds
/// with the `MPI` package trait, `MPICommunicator` over MPI.
public protocol Communicator: AnyObject {
    /// This process's index, `0 ..< size`. Rank 0 writes the run folder.
    var rank: Int { get }
    /// Number of processes.
    var size: Int { get }
    /// The host this process runs on (named in messages about ranks).
    var hostName: String { get }

    /// Sums `count` floats over all ranks in place: afterwards every rank holds the same sum.
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// Sums `count` doubles over all ranks in place.
    func allReduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws
    /// The element-wise maximum of `count` doubles over all ranks, in place.
    func allReduceMax(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws
    /// `buffer` holds `counts.count == size` consecutive parts, part r being `counts[r]` floats.
    /// Afterwards rank r's own part (part `rank`) holds the sum over all ranks of that part; the
    /// other parts are unspecified. This is the first half of an all-reduce.
    func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, counts: [Int]) throws
    /// `buffer` laid out as in ``reduceScatterSum(_:counts:)``; each rank's own part is sent to
    /// every rank, so afterwards every part holds its owner's values everywhere.
    func allGather(_ buffer: UnsafeMutablePointer<Float>, counts: [Int]) throws
    /// Copies `bytes` bytes from rank `root`'s buffer into every other rank's.
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws
    /// Every rank's `bytes` (any lengths), in rank order, on every rank.
    func allGather(bytes: [UInt8]) throws -> [[UInt8]]
    /// Sends `bytes` bytes to rank `to` (waits until they are taken).
    func send(_ buffer: UnsafeRawPointer, bytes: Int, to: Int, tag: Int) throws
    /// Receives exactly `bytes` bytes from rank `from`.
    func receive(_ buffer: UnsafeMutableRawPointer, bytes: Int, from: Int, tag: Int) throws
    /// Returns when every rank has called it.
    func barrier() throws
    /// Ends every process of the group at once with `code` (after a message was printed).
    func abort(_ code: Int32) -> Never
    /// Leaves the group cleanly at the end of a successful run (MPI_Finalize).
    func finish()
    /// Said by the watchdog when it ends this rank (e.g. how to resume the run).
    var stopNote: String { get set }
    /// Runs `body`, whose collectives may legitimately wait long (rank 0 preparing the data,
    /// evaluating, writing a checkpoint), without the watchdog's limit.
    func unwatched<T>(_ body: () throws -> T) rethrows -> T
}

/// Errors of the distributed layer; each names the ranks (and hosts) involved.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    /// A collective or message failed (a rank died, the network failed, or sizes disagreed).
    case communication(String)
    /// Launched by mpirun with several ranks, but this build has no MPI.
    case notBuiltWithMPI(ranks: Int)
    /// The ranks do not agree on something they must share (config, data, sizes).
    case disagreement(String)
    /// A value that must be valid on every rank is not (e.g. more ranks than batch rows).
    case invalid(String)

    public var description: String {
        switch self {
        case let .communication(m): return "communication: \(m)"
        case let .notBuiltWithMPI(n):
            return "launched with \(n) ranks (mpirun), but this glm was built without MPI; build it with the MPI trait: swift build -c release --traits MPI (see docs/distributed.md)"
        case let .disagreement(m): return "ranks disagree: \(m)"
        case let .invalid(m): return m
        }
    }
}

/// One rank's failure, as gathered by ``Communicator/agree(_:)``.
public struct PeerFailure: Sendable, Equatable {
    public var rank: Int
    public var host: String
    public var message: String
}

/// What every rank throws from ``Communicator/agree(_:)`` when any rank failed: all failures
/// (every rank knows them, so rank 0 alone needs to print them), and this rank's own error.
public struct AgreedFailure: Error, CustomStringConvertible {
    public var failures: [PeerFailure]
    /// This rank's own error, if it failed.
    public var own: Error?

    /// One line per failing rank; just the error when rank 0 alone failed.
    public var description: String {
        if failures.count == 1, failures[0].rank == 0, let own { return String(describing: own) }
        return failures.map { "rank \($0.rank) (\($0.host)): \($0.message)" }.joined(separator: "\n")
    }
}

extension Communicator {
    /// Whether this is rank 0, the rank that writes the run folder and logs.
    public var isRoot: Bool { rank == 0 }

    /// `"rank r (host)"`, for messages.
    public var name: String { "rank \(rank) (\(hostName))" }

    /// Sums one float over all ranks.
    public func sum(_ x: Float) throws -> Float {
        var v = x
        try allReduceSum(&v, count: 1)
        return v
    }

    /// Sums one double over all ranks.
    public func sum(_ x: Double) throws -> Double {
        var v = x
        try allReduceSum(&v, count: 1)
        return v
    }

    /// The maximum of each element over all ranks.
    public func max(_ xs: [Double]) throws -> [Double] {
        var v = xs
        try v.withUnsafeMutableBufferPointer { try allReduceMax($0.baseAddress!, count: $0.count) }
        return v
    }

    /// Rank `root`'s `data` on every rank (others pass anything; their value is ignored).
    public func broadcast(_ data: [UInt8], root: Int = 0) throws -> [UInt8] {
        guard size > 1 else { return data }
        var count = UInt64(data.count)
        try broadcast(&count, bytes: 8, root: root)
        var out = rank == root ? data : [UInt8](repeating: 0, count: Int(count))
        if count > 0 { try out.withUnsafeMutableBytes { try broadcast($0.baseAddress!, bytes: $0.count, root: root) } }
        return out
    }

    /// Runs `body` on every rank and makes the outcome collective: if it threw on any rank,
    /// every rank throws an ``AgreedFailure`` naming every failure (so one rank's bad input stops
    /// all of them cleanly, and rank 0's log says why). Alone (size 1) the error is thrown as is.
    /// Every rank must call it, even one that already knows it failed, or the others wait forever.
    @discardableResult
    public func agree<T>(_ body: () throws -> T) throws -> T {
        var result: Result<T, Error>
        do { result = .success(try body()) } catch { result = .failure(error) }
        guard size > 1 else { return try result.get() }
        var report: [UInt8] = [0]
        if case let .failure(e) = result { report = [1] + Array(String(describing: e).utf8.prefix(4000)) }
        let all = try allGather(bytes: report + Array(hostName.utf8.prefix(200)).withLengthSuffix())
        var failures: [PeerFailure] = []
        for (r, bytes) in all.enumerated() {
            let (status, host) = Self.splitReport(bytes)
            if status.first == 1 {
                failures.append(PeerFailure(rank: r, host: host, message: String(decoding: status.dropFirst(), as: UTF8.self)))
            }
        }
        if !failures.isEmpty {
            var own: Error? = nil
            if case let .failure(e) = result { own = e }
            throw AgreedFailure(failures: failures, own: own)
        }
        return try result.get()
    }

    /// A report is `status bytes ‖ host ‖ 4-byte host length`.
    private static func splitReport(_ bytes: [UInt8]) -> (status: [UInt8], host: String) {
        guard bytes.count >= 4 else { return (bytes, "?") }
        let n = bytes.suffix(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard n <= bytes.count - 4 else { return (bytes, "?") }
        let hostEnd = bytes.count - 4
        return (Array(bytes[..<(hostEnd - n)]), String(decoding: bytes[(hostEnd - n)..<hostEnd], as: UTF8.self))
    }

    /// Every rank's host name, in rank order.
    public func hostNames() throws -> [String] {
        try allGather(bytes: Array(hostName.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension Array where Element == UInt8 {
    /// `self ‖ count as 4 little-endian bytes` (read back from the end).
    func withLengthSuffix() -> [UInt8] {
        self + (0..<4).map { UInt8(truncatingIfNeeded: count >> (8 * $0)) }
    }
}
