import Dispatch
import Foundation

/// Turns stop signals (SIGINT and SIGTERM by default) into a flag the training loop polls
/// between steps, so a stop request finishes the current step, saves a checkpoint and exits
/// cleanly instead of dying mid-write.
public final class SignalWatcher: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var received: Int32 = 0
    private let watched: [Int32]

    public init(signals: [Int32] = [SIGINT, SIGTERM]) {
        watched = signals
        for sig in signals {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock(); self.received = sig; self.lock.unlock()
            }
            s.resume()
            sources.append(s)
        }
    }

    /// The signal received, or nil.
    public var stopRequested: Int32? {
        lock.lock(); defer { lock.unlock() }
        return received == 0 ? nil : received
    }

    deinit {
        for s in sources { s.cancel() }
        for sig in watched { signal(sig, SIG_DFL) }
    }
}
