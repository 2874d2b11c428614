import Foundation

/// A closed-loop load test of `glm serve`: `clients` threads, each with its own keep-alive
/// connection, send completion requests one after another for `seconds`; reported are the
/// latency percentiles, the generated tokens per second (from each answer's `usage`), the errors
/// and the server's resident memory before and after (docs/serve.md, "Measurements").
public enum LoadTest {
    /// Where to send the load and how much: clients, seconds per run, tokens per request.
    public struct Settings: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var apiKey: String?
        public var clients = 1
        public var seconds = 60.0
        /// Tokens per request: `max_tokens` and `min_tokens` both, so every request generates
        /// exactly this many and the rate does not depend on where a model stops.
        public var tokens = 32
        /// Pid of the server for the memory readings (`/proc/PID/status`); nil: not read.
        public var serverPID: Int32?
        public init() {}
    }

    /// One run's figures, keyed as `glm loadtest --json` prints them (latencies of the
    /// successful requests; tokens from their `usage`).
    public struct Result: Codable, Sendable {
        public var clients: Int
        public var seconds: Double
        public var requests: Int
        public var errors: Int
        public var p50_ms: Double
        public var p99_ms: Double
        public var generated_tokens: Int
        public var tokens_per_s: Double
        public var requests_per_s: Double
        public var rss_before_mib: Double?
        public var rss_after_mib: Double?
        /// The first error seen, for the report.
        public var first_error: String?
    }

    /// Prompts the clients cycle through: continuations of different lengths (no blanks), so
    /// each request generates `tokens` tokens after [gMASK].
    public static let prompts = [
        "The history of the city begins with a small settlement on the river",
        "She opened the letter and read it twice before she",
        "In the morning the ships left the harbour, and by noon",
        "Scientists have long wondered why some birds",
        "He said that the old house at the end of the road had been empty for years because",
        "The committee will meet again next week to discuss",
        "After the war, the family moved to a farm where",
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness",
    ]

    /// Resident memory of `pid` in MiB (`VmRSS`), or nil where /proc does not say.
    public static func residentMiB(pid: Int32) -> Double? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kb / 1024
    }

    /// The p-quantile (0…1) of sorted values, nearest rank.
    static func quantile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// Runs the test; blocks for about `settings.seconds`.
    public static func run(_ settings: Settings) -> Result {
        let rssBefore = settings.serverPID.flatMap { residentMiB(pid: $0) }
        let tally = Tally()
        let start = Date()
        let end = start.addingTimeInterval(settings.seconds)
        let group = DispatchGroup()
        for c in 0..<settings.clients {
            group.enter()
            let t = Thread {
                defer { group.leave() }
                var client: LoopbackClient?
                var i = c
                var headers = ["Content-Type": "application/json"]
                if let k = settings.apiKey { headers["Authorization"] = "Bearer \(k)" }
                while Date() < end {
                    let body: [String: Any] = ["prompt": prompts[i % prompts.count], "max_tokens": settings.tokens, "min_tokens": settings.tokens,
                                               "temperature": 0.9, "seed": i]
                    i += settings.clients
                    let t0 = Date()
                    do {
                        if client == nil { client = try LoopbackClient(host: settings.host, port: settings.port, timeout: 600) }
                        let r = try client!.request("POST", "/v1/completions", headers: headers, body: try JSONSerialization.data(withJSONObject: body))
                        let n = ((r.json?["usage"] as? [String: Any])?["completion_tokens"] as? Int) ?? 0
                        if r.status == 200 {
                            tally.ok(Date().timeIntervalSince(t0), tokens: n)
                        } else {
                            tally.failed("HTTP \(r.status): \(r.text.prefix(300))")
                        }
                    } catch {
                        client = nil
                        tally.failed("\(error)")
                    }
                }
            }
            t.start()
        }
        group.wait()
        let (latencies, tokens, errors, firstError) = tally.read()
        let elapsed = Date().timeIntervalSince(start)
        let sorted = latencies.sorted()
        return Result(clients: settings.clients, seconds: elapsed, requests: sorted.count, errors: errors,
                      p50_ms: quantile(sorted, 0.5) * 1000, p99_ms: quantile(sorted, 0.99) * 1000,
                      generated_tokens: tokens, tokens_per_s: Double(tokens) / elapsed, requests_per_s: Double(sorted.count) / elapsed,
                      rss_before_mib: rssBefore, rss_after_mib: settings.serverPID.flatMap { residentMiB(pid: $0) }, first_error: firstError)
    }

    private final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var latencies: [Double] = []
        private var tokens = 0, errors = 0
        private var firstError: String?
        func ok(_ seconds: Double, tokens n: Int) { lock.withLock { latencies.append(seconds); tokens += n } }
        func failed(_ why: String) { lock.withLock { errors += 1; if firstError == nil { firstError = why } } }
        func read() -> ([Double], Int, Int, String?) { lock.withLock { (latencies, tokens, errors, firstError) } }
    }

    /// A Markdown table of results (the one in docs/serve.md).
    public static func table(_ results: [Result]) -> String {
        var s = "| clients | requests | errors | p50 latency (ms) | p99 latency (ms) | generated tokens/s | RSS before → after (MiB) |\n"
        s += "|---:|---:|---:|---:|---:|---:|---|\n"
        for r in results {
            let rss = r.rss_before_mib.map { b in String(format: "%.0f → %@", b, r.rss_after_mib.map { String(format: "%.0f", $0) } ?? "?") } ?? "–"
            s += String(format: "| %d | %d | %d | %.0f | %.0f | %.1f | %@ |\n", r.clients, r.requests, r.errors, r.p50_ms, r.p99_ms, r.tokens_per_s, rss)
        }
        return s
    }
}
