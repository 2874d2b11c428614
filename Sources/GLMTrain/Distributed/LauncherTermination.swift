import Dispatch
import Foundation

/// SIGTERM and SIGINT in a data-parallel run come from the launcher ending the job: mpirun sends
/// them to every rank when one rank died or when mpirun itself was interrupted, and follows with
/// SIGKILL about two seconds later. There is no time for a checkpoint and the other ranks may be
/// gone, so each rank says so — rank 0 with the checkpoint to continue from — and exits at once.
/// The last complete checkpoint is intact (checkpoints are written aside and renamed into place).
/// A clean, checkpointed stop of a data-parallel run is SIGUSR1, which mpirun forwards.
final class LauncherTermination {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// Installs the handlers (once per process).
    static func install(who: String, checkpoints: RunCheckpoints?) {
        guard sources.isEmpty else { return }
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                var msg = "\(who): \(sig == SIGTERM ? "SIGTERM" : "SIGINT") from the launcher (a rank died or the job was interrupted): stopping now"
                if let checkpoints {
                    if let dir = try? checkpoints.latest() {
                        msg += "; the last checkpoint is \(dir.lastPathComponent): continue with glm pretrain --output \(checkpoints.runDir.path) --resume"
                    } else {
                        msg += "; no checkpoint was written yet"
                    }
                }
                FileHandle.standardError.write(Data((msg + "\n").utf8))
                _exit(128 + sig)
            }
            s.resume()
            sources.append(s)
        }
    }
}
