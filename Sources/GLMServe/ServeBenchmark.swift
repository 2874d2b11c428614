import Foundation
import GLM
import GLMTokenizers

/// `glm bench --only serve`: a randomly initialised model of a preset's shape served in-process on
/// loopback, under the closed-loop ``LoadTest`` with 1 and 16 clients. The 16-client rate over the
/// 1-client rate is what continuous batching buys.
public enum ServeBenchmark {
    /// Tokens per second per client count (keys of ``LoadTest/Result``).
    public static func run(config: GLMConfig, tokenizer: GLMTokenizer, clients: [Int], seconds: Double, tokens: Int = 32,
                           log: @escaping @Sendable (String) -> Void) async throws -> [LoadTest.Result] {
        let model = try GLMModel(config: config)
        var options = ServeOptions()
        options.port = 0
        options.batch = max(16, clients.max() ?? 1)
        let server = try GLMServer(model: try ServedModel(id: "bench", model: model, tokenizer: tokenizer), options: options)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let task = Task { try await server.run(handleSignals: false) { portSink.yield($0) } }
        var it = ports.makeAsyncIterator()
        guard let port = await it.next() else { throw ServeError.invalidOption("the benchmark server did not start") }
        var results: [LoadTest.Result] = []
        for n in clients {
            var s = LoadTest.Settings()
            s.port = port
            s.clients = n
            s.tokens = tokens
            s.serverPID = getpid()
            // A short warm-up at the same concurrency first (first calls of a process run slow).
            s.seconds = min(2, seconds)
            let warm = s
            _ = await blocking { LoadTest.run(warm) }
            s.seconds = seconds
            let timed = s
            let r = await blocking { LoadTest.run(timed) }
            log(String(format: "serve %d client%@ (%d tokens per request, %.0f s): %.1f tokens/s, p50 %.0f ms, p99 %.0f ms, %d errors",
                       n, n == 1 ? "" : "s", tokens, seconds, r.tokens_per_s, r.p50_ms, r.p99_ms, r.errors))
            if let e = r.first_error { log("  first error: \(e)") }
            results.append(r)
        }
        await server.shutdown()
        _ = try? await task.value
        return results
    }

    /// Runs blocking work (a ``LoadTest``) on its own thread, off Swift's cooperative pool, which
    /// the server's requests use.
    public static func blocking<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in
            let t = Thread { c.resume(returning: body()) }
            t.start()
        }
    }
}
