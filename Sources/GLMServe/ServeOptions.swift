import Foundation

/// How `glm serve` listens and what it allows one request (docs/serve.md, "Limits").
public struct ServeOptions: Sendable {
    /// Address to bind: loopback unless told otherwise.
    public var host = "127.0.0.1"
    /// TCP port (0: any free port, reported by ``GLMServer/run(onListening:)``).
    public var port = 8080
    /// When set, `/v1/*` and `/metrics` need `Authorization: Bearer <key>`.
    public var apiKey: String?
    /// The model's name in `/v1/models` and the `model` field of completions (default: the
    /// model folder's name).
    public var modelID: String?
    /// Largest request body, in bytes (413 beyond).
    public var maxBodyBytes = 1 << 20
    /// Largest `max_tokens` / `max_new_tokens` (tokens per blank) a request may ask for (400 beyond).
    /// Fills are also capped at the model's `max_sequence_length`.
    public var maxTokens = 256
    /// Seconds a request may take, queueing included (408 beyond; its decoding is cancelled).
    public var timeout: Double = 300
    /// Requests that may wait for free cache rows (429 beyond). A request waits at least until
    /// the next decoding step, when waiting requests join the batch as far as rows are free.
    public var maxQueue = 64
    /// Cache rows, i.e. sequences decoded together in one step (a beam search takes one per beam
    /// plus one).
    public var batch = 16
    /// Tokens per cache row: a prompt plus all its fills (each up to its token limit, plus sop)
    /// must fit. Default: the larger of P + min(``maxTokens``, P) + 1 (any one-blank prompt fits)
    /// and 2P, for the model's `max_sequence_length` P. The cache takes
    /// 8 · layers · hidden · ``batch`` · capacity bytes.
    public var sequenceCapacity: Int?
    /// bf16 matmuls (faster on CPUs with bf16 support; slightly different numbers).
    public var bf16 = false
    /// Seconds the decoding thread sleeps after each step. 0 in service; tests and demonstrations
    /// use it to make a fill slow enough to watch or to cancel.
    public var stepPause: Double = 0

    public init() {}

    /// Throws ``ServeError/invalidOption(_:)`` naming the option out of range.
    public func validate() throws {
        func bad(_ m: String) -> ServeError { .invalidOption(m) }
        guard (0...65535).contains(port) else { throw bad("--port must be in 0…65535, got \(port)") }
        guard !host.isEmpty else { throw bad("--host must not be empty") }
        guard maxBodyBytes > 0 else { throw bad("--max-body-bytes must be > 0, got \(maxBodyBytes)") }
        guard maxTokens > 0 else { throw bad("--max-tokens must be > 0, got \(maxTokens)") }
        guard timeout > 0, timeout.isFinite else { throw bad("--timeout must be > 0 seconds, got \(timeout)") }
        guard maxQueue >= 1 else { throw bad("--max-queue must be ≥ 1, got \(maxQueue)") }
        guard batch > 0 else { throw bad("--batch must be > 0, got \(batch)") }
        if let c = sequenceCapacity { guard c > 0 else { throw bad("--sequence-capacity must be > 0, got \(c)") } }
        if let k = apiKey { guard !k.isEmpty else { throw bad("--api-key must not be empty") } }
        guard stepPause >= 0, stepPause.isFinite else { throw bad("step pause must be ≥ 0 seconds, got \(stepPause)") }
    }
}

/// Errors of starting the server (not of requests: those are ``APIError``s).
public enum ServeError: Error, CustomStringConvertible {
    case invalidOption(String)
    case model(String)

    public var description: String {
        switch self {
        case let .invalidOption(m), let .model(m): return m
        }
    }
}
