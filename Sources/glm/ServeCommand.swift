import ArgumentParser
import Foundation
import GLMServe

/// `glm serve`: blank filling over HTTP. Thin: options only; the server is `GLMServer`
/// (docs/serve.md).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a GLM model over HTTP: blank filling, OpenAI-compatible completions, a page to try it.",
        discussion: """
        Loads the model once, then answers on http://HOST:PORT (loopback unless --host says \
        otherwise): POST /v1/fill (the object of glm generate --json, or server-sent events with \
        "stream": true), POST /v1/completions (OpenAI's completions API), GET /v1/models, \
        GET /health, GET /metrics (Prometheus), and a page at / to try it. Concurrent requests \
        decode together in one batch, each getting exactly what it gets alone. SIGTERM or \
        SIGINT stops taking connections and lets the requests in flight finish.

        The API key, when set, is needed as 'Authorization: Bearer KEY' on /v1/* and /metrics; \
        it can also come from the GLM_API_KEY environment variable (kept out of ps listings).

        Examples:
          glm serve --model runs/default/model
          glm serve --model glm-large --host 0.0.0.0 --port 9000 --api-key "$KEY" --batch 32
          curl -s localhost:8080/v1/fill -d '{"text": "Paris is the [MASK] of France.", "greedy": true}'
        """)

    @Option(name: .long, help: "Model folder: config.json, weights and tokenizer files (as glm generate).")
    var model: String
    @Option(name: .long, help: "Address to bind (0.0.0.0 for every interface).")
    var host = "127.0.0.1"
    @Option(name: .long, help: "TCP port (0: any free one, printed at start).")
    var port = 8080
    @Option(name: .long, help: "Require 'Authorization: Bearer KEY' on /v1/* and /metrics (or set GLM_API_KEY).")
    var apiKey: String?
    @Option(name: .long, help: "The model's name in /v1/models and completions (default: the folder's name).")
    var modelId: String?
    @Option(name: .long, help: "Sequences decoded together (KV cache rows; a beam search takes beams + 1).")
    var batch = 16
    @Option(name: .long, help: "Most tokens per blank a request may ask for (max_tokens, max_new_tokens).")
    var maxTokens = 256
    @Option(name: .long, help: "Requests that may wait for a free row; more get 429.")
    var maxQueue = 64
    @Option(name: .long, help: "Seconds a request may take, waiting included; then 408 and its decoding stops.")
    var timeout: Double = 300
    @Option(name: .long, help: "Largest request body in bytes; larger get 413.")
    var maxBodyBytes = 1 << 20
    @Option(name: .long, help: "Tokens per sequence in the KV cache: a prompt and all its fills must fit (default: max(P + min(--max-tokens, P) + 1, 2P), P = max_sequence_length).")
    var sequenceCapacity: Int?
    @OptionGroup var precision: PrecisionOptions
    @Option(name: .long, help: ArgumentHelp("Milliseconds to sleep after each decoding step (demonstrations and tests).", visibility: .hidden))
    var stepPauseMs: Double = 0

    func run() async throws {
        var o = ServeOptions()
        o.host = host
        o.port = port
        o.apiKey = apiKey ?? ProcessInfo.processInfo.environment["GLM_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        o.modelID = modelId
        o.batch = batch
        o.maxTokens = maxTokens
        o.maxQueue = maxQueue
        o.timeout = timeout
        o.maxBodyBytes = maxBodyBytes
        o.sequenceCapacity = sequenceCapacity
        o.bf16 = precision.bf16
        o.stepPause = stepPauseMs / 1000
        do {
            try o.validate()
            let served = try ServedModel.load(folder: model, id: o.modelID, bf16: precision.bf16)
            let server = try GLMServer(model: served, options: o)
            let shown = o.host.contains(":") ? "[\(o.host)]" : o.host, rows = o.batch
            try await server.run { port in
                // Unbuffered, so a script that started the server reads the port at once.
                FileHandle.standardOutput.write(Data("glm serve: \(served.id) on http://\(shown):\(port) (batch \(rows), Ctrl-C to stop)\n".utf8))
            }
            FileHandle.standardError.write(Data("glm serve: stopped\n".utf8))
        } catch let e as ServeError {
            throw ValidationError(e.description)
        }
    }
}
