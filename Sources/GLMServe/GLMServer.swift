import Foundation
import GLM
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// The request context of `glm serve`: Hummingbird's core context plus the connection, through
/// which a request learns that its client went away (``ClientWatcher``).
struct ServeContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// A prompt checked and ready to decode.
struct PreparedPrompt: Sendable {
    /// The text as sent.
    let prompt: String
    /// Its context ids (the generation mask appended when it had no blank).
    let context: [Int]
    /// The settings, capped (``BlankFiller/capped(_:)``).
    let config: GenerationConfig
    /// Whether the text had blanks of its own.
    let hasBlanks: Bool
}

/// `glm serve`: one loaded model behind an HTTP API (docs/serve.md). Requests decode together on
/// one ``DecodingLoop``; the routes live in the endpoint files of this target.
public final class GLMServer: Sendable {
    /// The loaded model and tokenizer.
    public let model: ServedModel
    /// Listening and limits, validated.
    public let options: ServeOptions
    /// What `/metrics` reports.
    public let metrics: ServerMetrics
    let loop: DecodingLoop
    let filler: BlankFiller

    /// A server over `model`: allocates the KV cache (``ServeOptions/batch`` rows of
    /// ``ServeOptions/sequenceCapacity`` tokens) and starts the decoding thread.
    public init(model: ServedModel, options: ServeOptions) throws {
        try options.validate()
        self.model = model
        self.options = options
        filler = BlankFiller(model: model.model)
        let p = model.model.config.maxSequenceLength
        let capacity = options.sequenceCapacity ?? max(p + min(options.maxTokens, p) + 1, 2 * p)
        let engine = try FillEngine(model: model.model, tokens: model.tokens, rows: options.batch, capacity: capacity)
        let metrics = ServerMetrics()
        self.metrics = metrics
        loop = DecodingLoop(engine: engine, maxQueue: options.maxQueue, pause: options.stepPause,
                            onFinished: { metrics.generated($0) }, onStep: { metrics.step(contexts: $0) })
        loop.start()
    }

    /// A server that never ran (or ran and returned) ends its decoding thread, which would
    /// otherwise keep the engine, its cache and the model alive for the rest of the process.
    deinit { loop.stop() }

    /// The model's id as `/v1/models` lists it.
    public var modelID: String { model.id }

    /// Serves until SIGTERM or SIGINT (when `handleSignals`), ``shutdown()`` or cancellation of
    /// the task; on the first two it stops taking connections and lets the requests in flight
    /// finish, then stops the decoding thread. `onListening(port)` runs once the socket is bound
    /// (the port is the real one when ``ServeOptions/port`` is 0). A server runs once.
    public func run(handleSignals: Bool = true, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "glm-serve")
        logger.logLevel = .warning
        let app = Application(
            router: router(),
            server: .http1(configuration: .init(additionalChannelHandlers: [ClientWatcher()], idleTimeout: .seconds(120))),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "glm-serve"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
                                                      logger: logger))
        running.set(group)
        defer { loop.stop() }
        try await group.run()
    }

    /// Stops as on SIGTERM: no new connections; the requests in flight finish; ``run(handleSignals:onListening:)`` returns.
    public func shutdown() async {
        await running.get()?.triggerGracefulShutdown()
    }

    private let running = GroupBox()

    private final class GroupBox: @unchecked Sendable {
        private let lock = NSLock()
        private var group: ServiceGroup?
        func set(_ g: ServiceGroup) { lock.withLock { group = g } }
        func get() -> ServiceGroup? { lock.withLock { group } }
    }

    /// Every route, behind ``FrontMiddleware`` (API key, JSON errors, metrics).
    func router() -> Router<ServeContext> {
        let router = Router(context: ServeContext.self)
        router.add(middleware: FrontMiddleware(server: self))
        addInfoRoutes(router)
        addFillRoute(router)
        addCompletionsRoute(router)
        return router
    }

    // MARK: shared by the endpoints

    /// The body, at most ``ServeOptions/maxBodyBytes`` bytes (413 beyond).
    func body(_ request: Request) async throws -> Data {
        let limit = options.maxBodyBytes
        let tooLarge = APIError(status: 413, "the request body is larger than this server accepts (\(limit) bytes, --max-body-bytes)", code: "body_too_large")
        if let n = request.headers[.contentLength].flatMap({ Int($0) }), n > limit { throw tooLarge }
        do {
            var buffer = try await request.body.collect(upTo: limit)
            return Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
    }

    /// Checks one prompt and its settings against the model and the engine; errors name `field`
    /// (the prompt), `maxField` (tokens per blank) or `beamsField`.
    func prepare(text: String, field: String, config: GenerationConfig, maxField: String, beamsField: String = "num_beams") throws(APIError) -> PreparedPrompt {
        let tokens = model.tokens
        let context: [Int]
        do {
            context = try filler.prepare(context: BlankFiller.context(for: text, tokenizer: model.tokenizer), tokens: tokens)
        } catch let GLMError.invalidInput(m) {
            throw .field(field, m)
        } catch {
            throw .field(field, "\(error)")
        }
        let cfg = filler.capped(config)
        let need = FillEngine.needs(context: context, tokens: tokens, config: cfg)
        let engine = loop.engine
        guard need.rows <= engine.rows else {
            throw .field(beamsField, "\(cfg.numBeams) beams need \(need.rows) decoding rows; this server has \(engine.rows) (--batch)")
        }
        guard need.tokens <= engine.capacity else {
            let blanks = context.filter(tokens.masks.contains).count
            throw .field(maxField, "the prompt (\(context.count) tokens) with up to \(cfg.maxNewTokens) tokens for each of its \(blanks) blank(s) needs \(need.tokens) tokens; this server holds \(engine.capacity) per sequence (--sequence-capacity); ask for fewer tokens or send fewer blanks")
        }
        let hasBlanks = model.tokenizer.encode(text).contains(where: tokens.masks.contains)
        return PreparedPrompt(prompt: text, context: context, config: cfg, hasBlanks: hasBlanks)
    }

    /// Submits a prompt (429 when the queue is full); the returned decoding is cancelled when the
    /// client goes away.
    func submit(_ p: PreparedPrompt, context: ServeContext) async throws -> Decoding {
        let sub: (ticket: Int, events: AsyncStream<DecodeEvent>)
        do {
            sub = try loop.submit(context: p.context, config: p.config, timeout: options.timeout)
        } catch let GLMError.invalidInput(m) {
            throw APIError(status: 400, m)
        }
        let watcher = try? await context.channel.pipeline.handler(type: ClientWatcher.self).get()
        let d = Decoding(ticket: sub.ticket, events: sub.events, loop: loop, metrics: metrics, watcher: watcher)
        d.watch()
        return d
    }
}

extension Result where Failure == any Error {
    /// The fills, or the failure as an ``APIError``.
    func value() throws(APIError) -> Success {
        switch self {
        case let .success(v): return v
        case let .failure(e): throw APIError.from(e)
        }
    }
}

/// One prompt decoding for a request: its events, and its cancellation when the client goes away
/// or the request stops listening (a stop sequence, a failed write).
final class Decoding: @unchecked Sendable {
    let ticket: Int
    let events: AsyncStream<DecodeEvent>
    private let loop: DecodingLoop
    private let metrics: ServerMetrics
    private let watcher: ClientWatcher?
    private var watchToken: Int?
    private let lock = NSLock()
    private var clientGone = false
    private var done = false

    init(ticket: Int, events: AsyncStream<DecodeEvent>, loop: DecodingLoop, metrics: ServerMetrics, watcher: ClientWatcher?) {
        self.ticket = ticket
        self.events = events
        self.loop = loop
        self.metrics = metrics
        self.watcher = watcher
    }

    fileprivate func watch() {
        let token = watcher?.onGone { [weak self] in
            guard let self else { return }
            self.lock.withLock { self.clientGone = true }
            self.loop.cancel(self.ticket)
        }
        lock.withLock { watchToken = token }
    }

    /// Stops the decoding (its stream then finishes with `CancellationError`).
    func cancel() { loop.cancel(ticket) }

    /// Runs to the end, handing each token to `onToken` (which returns false to stop listening:
    /// the decoding is cancelled and later tokens are dropped). Returns the fills or the error.
    func run(onToken: (Int, Int) async throws -> Bool = { _, _ in true }) async throws -> Result<FillResult, any Error> {
        var listening = true
        defer { close() }
        for await event in events {
            switch event {
            case let .token(blank, id):
                guard listening else { continue }
                do {
                    if try await !onToken(blank, id) {
                        listening = false
                        cancel()
                    }
                } catch {
                    cancel()
                    throw error
                }
            case let .finished(result):
                lock.withLock { done = true }
                if case .failure(let e) = result {
                    if (e as? APIError)?.status == 408 { metrics.timedOut() }
                    if e is CancellationError, lock.withLock({ clientGone }) { metrics.cancelledByClient() }
                }
                return result
            }
        }
        return .failure(CancellationError())
    }

    /// Whether the client went away during the decoding.
    var isClientGone: Bool { lock.withLock { clientGone } }

    /// Ends the request's interest: forgets the client watch and, unless the decoding finished,
    /// cancels it, so a request that stops early (an error, a failed write) frees its rows.
    /// ``run(onToken:)`` ends with it; a request that may fail before running calls it too.
    func close() {
        let (token, finished) = lock.withLock { () -> (Int?, Bool) in
            defer { watchToken = nil }
            return (watchToken, done)
        }
        watcher?.remove(token)
        if !finished { loop.cancel(ticket) }
    }
}
