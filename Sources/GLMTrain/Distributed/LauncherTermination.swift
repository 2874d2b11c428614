import Foundation

/// SIGTERM and SIGINT in a data-parallel run come from the launcher ending the job: mpirun sends
/// them to every rank when one rank died or when mpirun itself was interrupted, and follows with
/// SIGKILL about two seconds later. There is no time for a checkpoint and the other ranks may be
/// gone, so each rank says so — rank 0 with the checkpoint to continue from — and exits at once.
/// The last complete checkpoint is intact (checkpoints are written aside and renamed into place).
/// A clean, checkpointed stop of a data-parallel run is SIGUSR1, which mpirun forwards.
///
/// The handler is a plain signal handler doing only async-signal-safe work (open, read, write,
/// _exit on buffers prepared at install): the training thread may be stuck inside MPI, and a
/// libdispatch signal source for these signals next to the loop's SIGUSR1 source was not
/// delivered reliably on Linux.
enum LauncherTermination {
    nonisolated(unsafe) private static var head: UnsafeMutableBufferPointer<UInt8>?
    nonisolated(unsafe) private static var tail: UnsafeMutableBufferPointer<UInt8>?
    nonisolated(unsafe) private static var pointerPath: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) private static var scratch: UnsafeMutableBufferPointer<UInt8>?
    nonisolated(unsafe) private static var middle: UnsafeMutableBufferPointer<UInt8>?

    /// Installs the handlers (once per process). `who` names the rank; with `checkpoints` (rank 0)
    /// the message names the checkpoint `latest` points at and the command to resume.
    static func install(who: String, checkpoints: RunCheckpoints?, resumeCommand: String) {
        guard head == nil else { return }
        func buffer(_ s: String) -> UnsafeMutableBufferPointer<UInt8> {
            let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: s.utf8.count)
            _ = b.initialize(from: s.utf8)
            return b
        }
        head = buffer("\(who): stopped by the launcher (SIGTERM/SIGINT: a rank died or the job was interrupted)")
        if let checkpoints {
            tail = buffer(" — continue with: \(resumeCommand)\n")
            pointerPath = strdup(checkpoints.latestPointer.path)
            scratch = .allocate(capacity: 256)
            middle = buffer("; the last checkpoint is ")
        } else {
            tail = buffer("\n")
        }
        for sig in [SIGTERM, SIGINT] { SignalWatcher.install(LauncherTermination.handler, for: sig, flags: 0) }
    }

    private static let handler: @convention(c) (Int32) -> Void = { sig in
        func put(_ b: UnsafeMutableBufferPointer<UInt8>?, count: Int? = nil) {
            guard let b, let base = b.baseAddress else { return }
            _ = write(2, base, count ?? b.count)
        }
        put(head)
        if let path = pointerPath, let buf = scratch, let base = buf.baseAddress {
            let fd = open(path, O_RDONLY)
            if fd >= 0 {
                var n = read(fd, base, buf.count)
                close(fd)
                while n > 0, base[n - 1] == 10 || base[n - 1] == 32 { n -= 1 }   // drop the newline
                if n > 0 { put(middle); put(buf, count: n) }
            }
        }
        put(tail)
        _exit(128 + sig)
    }
}
