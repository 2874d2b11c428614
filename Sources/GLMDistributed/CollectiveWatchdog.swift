import Foundation

/// Ends a process that has waited too long inside one collective.
///
/// A rank that dies is noticed by the launcher (mpirun stops the other ranks within seconds),
/// but a rank that hangs — stopped, deadlocked, stuck on a dead file system, cut off by the
/// network without its connections failing — leaves the others waiting in their next collective
/// forever. The watchdog is a thread that sees how long the current collective has run; past
/// ``timeout`` it prints which collective, on which rank, for how long, and ``note`` (the last
/// checkpoint), then exits the process with status 3. The launcher then ends the whole job.
/// (MPI may only be called from the training thread, so the watchdog exits without MPI.)
public final class CollectiveWatchdog: @unchecked Sendable {
    /// Seconds one collective may take (0: no watchdog).
    public let timeout: Double
    private let lock = NSLock()
    private var current: (op: String, since: Date)?
    private var suspensions = 0
    private var noteText = ""
    private let who: String
    private var thread: Thread?

    /// `who` names this process in the message (e.g. "rank 1 (host-b)").
    public init(timeout: Double, who: String) {
        self.timeout = timeout
        self.who = who
        guard timeout > 0 else { return }
        let t = Thread { [weak self] in
            while let self {
                Thread.sleep(forTimeInterval: Swift.min(1, self.timeout / 4))
                self.check()
            }
        }
        t.name = "glm-collective-watchdog"
        t.start()
        thread = t
    }

    /// Extra words for the message (e.g. "the last checkpoint is step-8 in runs/x").
    public var note: String {
        get { lock.lock(); defer { lock.unlock() }; return noteText }
        set { lock.lock(); noteText = newValue; lock.unlock() }
    }

    /// Runs `body` with no limit on the collectives inside it.
    public func suspended<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); suspensions += 1; lock.unlock()
        defer { lock.lock(); suspensions -= 1; lock.unlock() }
        return try body()
    }

    /// Runs `body`, a collective called `op`, under the watchdog.
    public func watch<T>(_ op: String, _ body: () throws -> T) rethrows -> T {
        guard timeout > 0 else { return try body() }
        lock.lock(); current = (op, Date()); lock.unlock()
        defer { lock.lock(); current = nil; lock.unlock() }
        return try body()
    }

    private func check() {
        lock.lock()
        let c = current, note = noteText, off = suspensions > 0
        lock.unlock()
        guard !off, let c, Date().timeIntervalSince(c.since) > timeout else { return }
        let msg = "\(who): no answer from the other ranks for \(Int(timeout)) s in \(c.op): a rank died, hangs or is cut off; stopping this rank (the launcher then stops the others)." + (note.isEmpty ? "" : " " + note) + "\n"
        FileHandle.standardError.write(Data(msg.utf8))
        _exit(3)
    }
}
