import Foundation

/// The group of one: a process training alone. Every collective leaves the buffers as they are
/// (the sum, gather or broadcast over one rank is the identity).
public final class LocalCommunicator: Communicator {
    public init() {}
    public var stopNote = ""
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var hostName: String { ProcessInfo.processInfo.hostName }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
    public func allReduceSum(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws {}
    public func allReduceMax(_ buffer: UnsafeMutablePointer<Double>, count: Int) throws {}
    public func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, counts: [Int]) throws { try check(counts) }
    public func allGather(_ buffer: UnsafeMutablePointer<Float>, counts: [Int]) throws { try check(counts) }
    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        guard root == 0 else { throw DistributedError.invalid("broadcast from rank \(root) in a group of 1") }
    }
    public func allGather(bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func send(_ buffer: UnsafeRawPointer, bytes: Int, to: Int, tag: Int) throws {
        throw DistributedError.invalid("send to rank \(to) in a group of 1")
    }
    public func receive(_ buffer: UnsafeMutableRawPointer, bytes: Int, from: Int, tag: Int) throws {
        throw DistributedError.invalid("receive from rank \(from) in a group of 1")
    }
    public func barrier() throws {}
    public func abort(_ code: Int32) -> Never { exit(code) }
    public func finish() {}
    public func unwatched<T>(_ body: () throws -> T) rethrows -> T { try body() }

    private func check(_ counts: [Int]) throws {
        guard counts.count == 1 else { throw DistributedError.invalid("\(counts.count) parts in a group of 1") }
    }
}
