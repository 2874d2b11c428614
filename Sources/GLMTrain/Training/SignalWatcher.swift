import Foundation
import Synchronization

/// The last stop signal received, written by the signal handler (an atomic store is
/// async-signal-safe) and read by the training thread between steps.
private let receivedStopSignal = Atomic<Int32>(0)

/// Turns stop signals (SIGINT and SIGTERM by default) into a flag the training loop polls
/// between steps, so a stop request finishes the current step, saves a checkpoint and exits
/// cleanly instead of dying mid-write.
///
/// A plain signal handler that only stores the signal number: a libdispatch signal source was not
/// delivered at all in processes running MPI (its progress threads take the signal first).
public final class SignalWatcher: @unchecked Sendable {
    private let watched: [Int32]

    public init(signals: [Int32] = [SIGINT, SIGTERM]) {
        watched = signals
        receivedStopSignal.store(0, ordering: .sequentiallyConsistent)
        for sig in signals { Self.install(SignalWatcher.handler, for: sig, flags: SA_RESTART) }
    }

    /// Installs a plain (`sa_handler`) handler for `sig`, no signals blocked while it runs. The
    /// handlers of this target only do async-signal-safe work (an atomic store; write and _exit).
    static func install(_ handler: @convention(c) (Int32) -> Void, for sig: Int32, flags: Int32) {
        var action = sigaction()
        #if os(Linux)
        action.__sigaction_handler.sa_handler = handler
        #else
        action.__sigaction_u.__sa_handler = handler
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = flags
        sigaction(sig, &action, nil)
    }

    private static let handler: @convention(c) (Int32) -> Void = { sig in
        receivedStopSignal.store(sig, ordering: .sequentiallyConsistent)
    }

    /// The signal received, or nil.
    public var stopRequested: Int32? { Self.received }

    /// The stop signal received by the process's watcher, or nil (none installed, or no signal):
    /// for long work outside the loop's steps (held-out evaluation) to cut itself short.
    public static var received: Int32? {
        let s = receivedStopSignal.load(ordering: .sequentiallyConsistent)
        return s == 0 ? nil : s
    }

    deinit {
        for sig in watched { signal(sig, SIG_DFL) }
    }
}
