import ArgumentParser
import Foundation
import GLM
import GLMServe
import GLMTokenizers
import GLMTrain

/// `glm loadtest`: the closed-loop load test of `glm serve` (GLMServe's `LoadTest`), against a
/// running server or one started in this process. Thin: options and printing only.
struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Load-test glm serve on loopback: N clients sending completions back to back; latency, tokens/s, errors, memory.",
        discussion: """
        Each client keeps one connection and sends POST /v1/completions requests one after \
        another (continuations of a few sentences, --tokens tokens each: max_tokens = min_tokens), \
        for --seconds per client count. Reported per count: requests, errors, p50/p99 latency, \
        generated tokens/s (from each answer's usage), and the server's resident memory before \
        and after (with --server-pid, or of this process when it serves).

        Examples:
          glm serve --model runs/default/model & glm loadtest --url http://127.0.0.1:8080 --server-pid $!
          glm loadtest --model runs/default/model --clients 1,4,16 --seconds 60
          glm loadtest --random glm-small --clients 1,4,16 --seconds 60 --json
        """)

    @Option(name: .long, help: "A running server (http://127.0.0.1:PORT; loopback only).")
    var url: String?
    @Option(name: .long, help: "Pid of that server, for its memory readings.")
    var serverPid: Int32?
    @Option(name: .long, help: "Serve this model folder in this process instead.")
    var model: String?
    @Option(name: .long, help: "Serve a randomly initialised model of this preset shape (with the bundled BERT vocabulary) in this process instead.")
    var random: String?
    @Option(name: .long, help: "Comma-separated client counts, one run each.")
    var clients = "1,4,16"
    @Option(name: .long, help: "Seconds per run.")
    var seconds: Double = 60
    @Option(name: .long, help: "Tokens generated per request.")
    var tokens = 32
    @Option(name: .long, help: "API key of the server.")
    var apiKey: String?
    @Option(name: .long, help: "Cache rows of the in-process server (--batch of glm serve).")
    var batch = 16
    @Flag(name: .long, help: "Print one JSON object per run instead of the table.")
    var json = false

    func run() async throws {
        let counts = clients.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--clients must be positive counts like 1,4,16") }
        guard seconds > 0, tokens > 0 else { throw ValidationError("--seconds and --tokens must be positive") }
        guard [url, model, random].compactMap({ $0 }).count == 1 else { throw ValidationError("give one of --url, --model, --random") }
        var s = LoadTest.Settings()
        s.tokens = tokens
        s.apiKey = apiKey
        var server: GLMServer?
        var task: Task<Void, any Error>?
        if let url {
            guard let u = URLComponents(string: url), u.scheme == "http", let host = u.host else { throw ValidationError("--url must look like http://127.0.0.1:8080") }
            s.host = host == "localhost" ? "127.0.0.1" : host
            s.port = u.port ?? 80
            s.serverPID = serverPid
        } else {
            let served: ServedModel
            do {
                if let model {
                    served = try ServedModel.load(folder: model)
                } else {
                    guard let preset = random, let config = GLMConfig.presets[preset] else {
                        throw ValidationError("unknown preset '\(random ?? "")'; choose from \(GLMConfig.presets.keys.sorted().joined(separator: ", "))")
                    }
                    guard let root = TrainConfig.bundledResourcesRoot() else { throw ValidationError("--random needs the bundled vocabulary; run from the repository") }
                    let tokenizer = try GLMTokenizer(folder: root.appendingPathComponent("Resources/tokenizers/bert-base-uncased"))
                    served = try ServedModel(id: "random-\(preset)", model: try GLMModel(config: config), tokenizer: tokenizer)
                }
            } catch let e as ServeError { throw ValidationError(e.description) }
            var o = ServeOptions()
            o.port = 0
            o.batch = batch
            o.maxQueue = max(64, counts.max()!)
            let srv = try GLMServer(model: served, options: o)
            let (ports, sink) = AsyncStream.makeStream(of: Int.self)
            task = Task { try await srv.run(handleSignals: false) { sink.yield($0) } }
            var it = ports.makeAsyncIterator()
            guard let port = await it.next() else { throw ValidationError("the server did not start") }
            s.port = port
            s.serverPID = getpid()
            server = srv
            if !json { print("serving \(served.id) in this process on 127.0.0.1:\(port) (batch \(batch))") }
        }
        var results: [LoadTest.Result] = []
        for n in counts {
            s.clients = n
            s.seconds = seconds
            let settings = s
            let r = await ServeBenchmark.blocking { LoadTest.run(settings) }
            results.append(r)
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys]
                print(String(decoding: try enc.encode(r), as: UTF8.self))
            } else {
                print(String(format: "%2d clients: %d requests, %d errors, p50 %.0f ms, p99 %.0f ms, %.1f tokens/s", n, r.requests, r.errors,
                             r.p50_ms, r.p99_ms, r.tokens_per_s) + (r.first_error.map { " (first error: \($0))" } ?? ""))
            }
        }
        if !json { print("\n" + LoadTest.table(results)) }
        if let server { await server.shutdown() }
        _ = try? await task?.value
    }
}
