import Foundation
import GLMTensor

/// How this process was started, and the communicator that goes with it.
public enum Distributed {
    /// Whether this build can talk MPI (the `MPI` package trait).
    public static var hasMPI: Bool {
        #if MPI
        return true
        #else
        return false
        #endif
    }

    /// The world size a launcher announced in the environment (Open MPI's mpirun, MPICH's Hydra,
    /// Slurm's PMI), or nil when none did.
    public static func launchedSize(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"] {
            if let s = env[key], let n = Int(s), n > 0 { return n }
        }
        return nil
    }

    /// Processes of this job on this host, as the launcher announced them (1 when none did).
    public static func localSize(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"] {
            if let s = env[key], let n = Int(s), n > 0 { return n }
        }
        return 1
    }

    /// The communicator of this process: ``LocalCommunicator`` when not launched with several
    /// ranks, else MPI's (initialising MPI). Several ranks on one host share its cores: unless
    /// `GLM_NUM_THREADS` says otherwise each gets `cores / ranks on this host` kernel threads.
    /// Call this before any kernel runs. `timeout`: the ``CollectiveWatchdog``'s limit in seconds.
    ///
    /// Throws ``DistributedError/notBuiltWithMPI(ranks:)`` under an mpirun of several ranks in a
    /// build without the `MPI` trait (the ranks would otherwise train alone, side by side).
    public static func communicator(timeout: Double) throws -> Communicator {
        guard let n = launchedSize(), n > 1 else { return LocalCommunicator() }
        shareKernelThreads(among: localSize())
        #if MPI
        return try MPICommunicator(timeout: timeout)
        #else
        throw DistributedError.notBuiltWithMPI(ranks: n)
        #endif
    }
}
