import ArgumentParser
import Foundation
import GLMDistributed
import GLMTrain

/// The flags of data-parallel training under mpirun, shared by `glm pretrain` and `glm finetune`.
struct DistributedOptions: ParsableArguments {
    @Option(name: .long, help: "Under mpirun: ZeRO stage, 0 (optimizer on every rank) or 1 (optimizer moments sharded across ranks).")
    var zero: Int?
    @Option(name: .long, help: "Under mpirun: gradient bucket size in MiB (one collective per bucket; default 25).")
    var bucketMb: Double?
    @Option(name: .long, help: "Under mpirun: seconds a rank may wait in one collective before it stops the job (default 600, 0: never).")
    var commTimeout: Double?

    /// `options` with the flags given applied (nil stays nil when no flag was given).
    func applied(to options: ParallelOptions?) -> ParallelOptions? {
        guard zero != nil || bucketMb != nil else { return options }
        var p = options ?? ParallelOptions()
        if let zero { p.zero = zero }
        if let bucketMb { p.bucketMB = bucketMb }
        return p
    }

    /// Runs `body` with this process's communicator: alone as always, or as one rank of an mpirun
    /// job. Failures every rank knows of (setup checks, ``AgreedFailure``) are printed once by
    /// rank 0 and every rank exits 1; a failure of this rank alone is printed and ends the job.
    func run(_ body: (Communicator) throws -> Void) throws {
        let comm = try Distributed.communicator(timeout: commTimeout ?? 600)
        guard comm.size > 1 else { return try body(comm) }
        do {
            try body(comm)
            comm.finish()
        } catch let e as AgreedFailure {
            if comm.isRoot { FileHandle.standardError.write(Data("Error: \(e)\n".utf8)) }
            comm.finish()
            throw ExitCode.failure
        } catch {
            FileHandle.standardError.write(Data("Error: \(comm.name): \(error)\n".utf8))
            comm.abort(1)
        }
    }

    /// A saved run config, read by rank 0 and handed to every rank (the others need no copy of
    /// the run folder); nil when rank 0 has none.
    static func savedConfig(_ file: URL, _ comm: Communicator) throws -> Data? {
        var bytes: [UInt8] = []
        var found = false
        try comm.agree {
            if comm.isRoot, let d = try? Data(contentsOf: file) { bytes = Array(d); found = true }
        }
        bytes = try comm.broadcast(bytes)
        return comm.isRoot ? (found ? Data(bytes) : nil) : (bytes.isEmpty ? nil : Data(bytes))
    }
}
