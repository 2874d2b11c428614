import Foundation

/// How much memory this process may still use, and a check to run before a large allocation.
///
/// Commands estimate what a model, a batch or a tensor will need and refuse with a clear error
/// before allocating, instead of being killed by the kernel (or aborting in the allocator) later.
public enum SystemMemory {
    /// Bytes available now: Linux `MemAvailable` (free plus reclaimable cache), capped by the cgroup
    /// limit when the process runs in a container; the physical memory elsewhere.
    ///
    /// `GLM_MEMORY_LIMIT` (bytes, or with a K/M/G/T suffix) overrides it, for tests and for users
    /// who want a lower ceiling.
    public static func available() -> Int {
        if let forced = ProcessInfo.processInfo.environment["GLM_MEMORY_LIMIT"], let v = parseSize(forced) { return v }
        var best = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        if let meminfo = Posix.readSmallFile("/proc/meminfo") {
            for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
                let parts = line.split(separator: " ")
                if parts.count >= 2, let kb = Int(parts[1]) { best = min(best, kb.multipliedReportingOverflow(by: 1024).partialValue) }
            }
        }
        // cgroup v2: the limit minus what the group already uses.
        if let maxText = Posix.readSmallFile("/sys/fs/cgroup/memory.max"),
           let limit = Int(maxText.trimmingCharacters(in: .whitespacesAndNewlines)) {
            let used = Posix.readSmallFile("/sys/fs/cgroup/memory.current")
                .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            best = min(best, max(0, limit - used))
        }
        return best
    }

    /// Throws ``SystemError/insufficientMemory(what:neededBytes:availableBytes:)`` when `bytes` is more
    /// than ``available()``.
    ///
    /// - Parameter what: what needs it, for the message ("the model glm-10b in f32").
    public static func require(_ bytes: Int, for what: @autoclosure () -> String) throws {
        let have = available()
        if bytes > have { throw SystemError.insufficientMemory(what: what(), neededBytes: bytes, availableBytes: have) }
    }

    /// `123`, `64K`, `1.5G`, `2T` → bytes (powers of 1024); nil when not a size.
    public static func parseSize(_ text: String) -> Int? {
        var t = text.trimmingCharacters(in: .whitespaces).uppercased()
        if t.hasSuffix("B") { t.removeLast() }
        var scale = 1.0
        if let last = t.last, let i = "KMGTP".firstIndex(of: last) {
            scale = pow(1024, Double("KMGTP".distance(from: "KMGTP".startIndex, to: i) + 1))
            t.removeLast()
        }
        guard let v = Double(t), v.isFinite, v >= 0, v * scale < 9.0e18 else { return nil }
        return Int(v * scale)
    }
}

/// Overflow-checked products and sums of sizes that come from files and flags.
///
/// They return nil instead of trapping, so readers can report the offending numbers.
public enum CheckedSize {
    /// The product of `values`, or nil if any is negative or the product passes `Int.max`.
    public static func product<S: Sequence>(_ values: S) -> Int? where S.Element == Int {
        var p = 1
        for v in values {
            guard v >= 0 else { return nil }
            let (r, o) = p.multipliedReportingOverflow(by: v)
            if o { return nil }
            p = r
        }
        return p
    }

    /// The sum of `values`, or nil if any is negative or the sum passes `Int.max`.
    public static func sum<S: Sequence>(_ values: S) -> Int? where S.Element == Int {
        var s = 0
        for v in values {
            guard v >= 0 else { return nil }
            let (r, o) = s.addingReportingOverflow(v)
            if o { return nil }
            s = r
        }
        return s
    }
}
