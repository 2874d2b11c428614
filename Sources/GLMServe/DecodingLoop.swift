import Foundation
import GLM

/// What a request hears from the decoding thread.
public enum DecodeEvent: Sendable {
    /// A token chosen for blank `blank` (sampling and greedy decoding; beam search has none).
    case token(blank: Int, id: Int)
    /// The fills, or why there are none (``APIError`` 408 for a timeout, `CancellationError`
    /// after ``DecodingLoop/cancel(_:)``, the engine's error otherwise).
    case finished(Result<FillResult, any Error>)
}

/// The one thread that decodes: it owns a ``FillEngine`` and calls `step()` while any context is
/// pending, sleeping on a condition when there is none. Requests (on the server's event loops)
/// submit contexts and hear their tokens through an `AsyncStream`, so a request that arrives
/// while others decode joins the running batch at the next step (continuous batching), and each
/// gets exactly the fills it gets alone (``FillEngine``'s guarantee).
public final class DecodingLoop: @unchecked Sendable {
    /// The engine this loop steps (its rows and capacity bound what a request may ask).
    public let engine: FillEngine
    /// Requests that may wait for free rows (429 beyond).
    public let maxQueue: Int
    let pause: Double
    private let condition = NSCondition()
    private var stopping = false
    private var finished = false
    private var deadlines: [Int: Double] = [:]
    private var expired: Set<Int> = []
    private var thread: Thread?
    /// Called on the decoding thread with the tokens each finished context generated.
    private let onFinished: @Sendable (Int) -> Void
    /// Called on the decoding thread before each step with the contexts decoding (admitted earlier).
    private let onStep: @Sendable (Int) -> Void

    /// A loop over `engine`; `pause` seconds of sleep after each step (tests), `onFinished(tokens)`
    /// after each context, `onStep(contexts)` before each step.
    public init(engine: FillEngine, maxQueue: Int, pause: Double = 0, onFinished: @escaping @Sendable (Int) -> Void = { _ in },
                onStep: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.engine = engine
        self.maxQueue = maxQueue
        self.pause = pause
        self.onFinished = onFinished
        self.onStep = onStep
    }

    /// Starts the decoding thread.
    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard thread == nil else { return }
        let t = Thread { [self] in run() }
        t.name = "glm-decode"
        thread = t
        t.start()
    }

    /// Finishes what is pending, then ends the thread; returns when it has ended.
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while thread != nil && !finished { condition.wait() }
        thread = nil   // the thread's closure holds this loop: let the ended thread take it along
        condition.unlock()
    }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    private func run() {
        while true {
            condition.lock()
            while engine.pending == 0 && !stopping { condition.wait() }
            if engine.pending == 0 && stopping {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let t = Self.now()
            for (ticket, d) in deadlines where d <= t {
                expired.insert(ticket)
                deadlines[ticket] = nil
                engine.cancel(ticket)
            }
            condition.unlock()
            onStep(engine.pending - engine.queued)
            engine.step()
            if pause > 0 { Thread.sleep(forTimeInterval: pause) }
        }
    }

    /// Contexts waiting for free rows.
    public var queued: Int { engine.queued }
    /// Contexts submitted and not finished.
    public var pending: Int { engine.pending }

    /// Queues `context` (prepared, with a capped config; see ``FillEngine/submit(context:config:onToken:onFinish:)``)
    /// and returns its ticket and events. The context is cancelled after `timeout` seconds (its
    /// stream then finishes with a 408 ``APIError``). Throws a 429 ``APIError`` when ``maxQueue``
    /// contexts already wait, a 503 one when the loop is stopping, and the engine's errors.
    public func submit(context: [Int], config: GenerationConfig, timeout: Double) throws -> (ticket: Int, events: AsyncStream<DecodeEvent>) {
        let (stream, continuation) = AsyncStream.makeStream(of: DecodeEvent.self, bufferingPolicy: .unbounded)
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw APIError(status: 503, "the server is shutting down", code: "shutting_down") }
        guard engine.queued < maxQueue else {
            throw APIError(status: 429, "the queue is full (\(engine.queued) requests wait for the \(engine.rows) decoding rows, --max-queue \(maxQueue)); retry later",
                           code: "queue_full")
        }
        let onFinished = self.onFinished
        // The ticket is known only once submit returns; the engine may finish the context first
        // (on its thread), so onFinish reads it under the lock this function holds until then.
        let box = TicketBox()
        box.ticket = try engine.submit(context: context, config: config, onToken: { continuation.yield(.token(blank: $0, id: $1)) },
                                       onFinish: { [weak self] result in
            var r = result
            if let self {
                self.condition.lock()
                let ticket = box.ticket
                self.deadlines[ticket] = nil
                if case .failure(let e) = result, e is CancellationError, self.expired.remove(ticket) != nil {
                    r = .failure(APIError(status: 408, "the request took longer than this server allows (\(timeout) s, --timeout); its decoding was stopped",
                                          code: "timeout"))
                }
                self.condition.unlock()
            }
            if case .success(let f) = r { onFinished(f.fills.reduce(0) { $0 + $1.tokens.count }) }
            continuation.yield(.finished(r))
            continuation.finish()
        })
        deadlines[box.ticket] = Self.now() + timeout
        condition.signal()
        return (box.ticket, stream)
    }

    private final class TicketBox: @unchecked Sendable { var ticket = 0 }

    /// Stops decoding `ticket` at the next step; its stream finishes with `CancellationError`.
    public func cancel(_ ticket: Int) {
        engine.cancel(ticket)
        condition.lock()
        condition.signal()
        condition.unlock()
    }
}
