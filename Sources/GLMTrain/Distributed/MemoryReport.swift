import Foundation
import GLMDistributed

/// After the first step of a data-parallel run, rank 0 logs what each rank holds: parameters,
/// gradients, optimizer moments (a shard of them under ZeRO-1) and the process's peak resident
/// memory so far (activations, buffers and all).
final class MemoryReportObserver: TrainingObserver {
    let parallel: DataParallel
    let say: (String) -> Void
    private var done = false

    init(parallel: DataParallel, say: @escaping (String) -> Void) {
        self.parallel = parallel; self.say = say
    }

    func stepEnded(_ e: StepEvent, loop: TrainingLoop) throws {
        guard !done else { return }
        done = true
        let store = loop.model.store
        let mine = [Double(store.totalCount * 4), Double(store.totalCount * 4), Double(loop.optimizer.stateBytes), Self.peakResidentBytes()]
        let all = try parallel.comm.allGather(bytes: mine.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } })
        let hosts = try parallel.comm.hostNames()
        func mb(_ x: Double) -> String { String(format: "%.1f MB", x / 1_048_576) }
        var lines = ["memory per rank (\(parallel.shardsOptimizer ? "ZeRO-1: optimizer moments sharded" : "optimizer moments replicated")):"]
        for (r, bytes) in all.enumerated() where bytes.count == 32 {
            let v = (0..<4).map { i in Double(bitPattern: bytes[(8 * i)..<(8 * i + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }) }
            lines.append("  rank \(r) (\(hosts[r])): parameters \(mb(v[0])), gradients \(mb(v[1])), optimizer \(mb(v[2])); peak resident \(mb(v[3]))")
        }
        say(lines.joined(separator: "\n"))
    }

    /// The process's peak resident set size in bytes.
    static func peakResidentBytes() -> Double {
        var u = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_maxrss) * 1024   // kilobytes on Linux
        #else
        getrusage(RUSAGE_SELF, &u)
        return Double(u.ru_maxrss)          // bytes on macOS
        #endif
    }
}

/// Rank 0 evaluates and writes checkpoints while the other ranks would wait for it inside the
/// next step's collectives. At those steps (and the last) every rank meets in a barrier that the
/// watchdog does not limit, so a long evaluation or checkpoint write is not taken for a hung
/// rank; the training collectives then only wait for the ranks' differences in compute time.
final class RankSyncObserver: TrainingObserver {
    let comm: Communicator
    let when: (StepEvent) -> Bool

    init(comm: Communicator, when: @escaping (StepEvent) -> Bool) { self.comm = comm; self.when = when }

    func stepEnded(_ e: StepEvent, loop: TrainingLoop) throws {
        guard e.isLast || when(e) else { return }
        try comm.unwatched { try comm.barrier() }
    }
}
