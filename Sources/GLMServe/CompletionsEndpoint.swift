import Foundation
import GLM
import GLMSystem
import GLMTokenizers
import Hummingbird

/// The body of `POST /v1/completions`, OpenAI's legacy completions API: what GLM can honour is
/// honoured, what it cannot is a 400 naming the field (never silently ignored).
struct CompletionRequest {
    /// Most prompts in one request.
    static let maxPrompts = 64

    var prompts: [String]
    var config: GenerationConfig
    var stop: [String]
    var stream: Bool
    var includeUsage: Bool

    static func parse(_ body: Data, model: ServedModel, maxTokens: Int) throws(APIError) -> CompletionRequest {
        var f = try RequestFields(body)
        if let m = try f.string("model"), m != model.id {
            throw APIError(status: 404, "model: the model '\(m)' does not exist on this server; it serves '\(model.id)' (GET /v1/models)",
                           param: "model", code: "model_not_found")
        }
        let prompts: [String]
        switch f.value("prompt") {
        case nil:
            throw .field("prompt", "required: a string, or an array of strings")
        case let .string(s)?:
            prompts = [s]
        case let .array(items)?:
            guard !items.isEmpty else { throw .field("prompt", "the array of prompts is empty") }
            guard items.count <= maxPrompts else { throw .field("prompt", "at most \(maxPrompts) prompts per request, got \(items.count)") }
            prompts = try items.map { (v: JSONValue) throws(APIError) -> String in
                guard case let .string(s) = v else {
                    throw .field("prompt", v.typeName == "a number" || v.typeName == "an array" ? "token id prompts are not accepted; send text" : "expected strings, got \(v.typeName)")
                }
                return s
            }
        case let v?:
            throw .field("prompt", "expected a string or an array of strings, got \(v.typeName)")
        }

        var c = GenerationConfig()
        c.topK = 0          // OpenAI has no top-k: the whole distribution, then top_p
        c.temperature = 1
        c.maxNewTokens = min(16, maxTokens)
        if let v = try f.int("max_tokens") {
            guard v >= 1 else { throw .field("max_tokens", "must be ≥ 1, got \(v)") }
            guard v <= maxTokens else { throw .field("max_tokens", "at most \(maxTokens) tokens (per blank) on this server (--max-tokens), got \(v)") }
            c.maxNewTokens = v
        }
        if let v = try f.number("temperature") {
            guard v >= 0, Float(v).isFinite else { throw .field("temperature", "must be ≥ 0 (0: greedy), got \(v)") }
            if v == 0 { c.greedy = true } else { c.temperature = Float(v) }
        }
        if let v = try f.number("top_p") {
            guard v > 0, v <= 1 else { throw .field("top_p", "must be in (0, 1], got \(v)") }
            c.topP = Float(v)
        }
        if let v = try f.int("top_k") {
            guard v >= 0 else { throw .field("top_k", "must be ≥ 0 (0: no limit), got \(v)") }
            c.topK = v
        }
        if let v = try f.number("repetition_penalty") {
            guard v > 0 else { throw .field("repetition_penalty", "must be > 0 (1: off), got \(v)") }
            c.repetitionPenalty = Float(v)
        }
        if let v = try f.int("min_tokens") {
            guard v >= 0, v <= c.maxNewTokens else { throw .field("min_tokens", "must be in [0, max_tokens = \(c.maxNewTokens)], got \(v)") }
            c.minNewTokens = v
        }
        // Without a seed each request samples anew, as OpenAI's; with one it repeats.
        c.seed = try f.seed("seed") ?? UInt64.random(in: 0...UInt64.max)
        c = model.withPaddingBanned(c)

        var stop: [String] = []
        switch f.value("stop") {
        case nil: break
        case let .string(s)?: stop = [s]
        case let .array(items)?:
            guard items.count <= 4 else { throw .field("stop", "at most 4 stop sequences, got \(items.count)") }
            stop = try items.map { (v: JSONValue) throws(APIError) -> String in
                guard case let .string(s) = v else { throw .field("stop", "expected strings, got \(v.typeName)") }
                return s
            }
        case let v?:
            throw .field("stop", "expected a string or an array of strings, got \(v.typeName)")
        }
        guard !stop.contains("") else { throw .field("stop", "a stop sequence must not be empty") }

        let stream = try f.bool("stream") ?? false
        var includeUsage = false
        if let v = f.value("stream_options") {
            guard case let .object(o) = v else { throw .field("stream_options", "expected an object, got \(v.typeName)") }
            for (k, x) in o {
                guard k == "include_usage" else { throw .field("stream_options.\(k)", "unknown field") }
                guard case let .bool(b) = x else { throw .field("stream_options.include_usage", "expected true or false, got \(x.typeName)") }
                includeUsage = b
            }
        }

        // OpenAI settings GLM has no counterpart for: only their neutral values are accepted.
        if let n = try f.int("n"), n != 1 { throw .field("n", "only n = 1 is supported; send several prompts instead") }
        if let n = try f.int("best_of"), n != 1 { throw .field("best_of", "only best_of = 1 is supported") }
        if try f.bool("echo") == true { throw .field("echo", "echo is not supported") }
        if f.value("logprobs") != nil { throw .field("logprobs", "log-probabilities are not returned by this server") }
        if f.value("suffix") != nil { throw .field("suffix", "not supported; put [MASK] in the prompt where the text goes") }
        for k in ["presence_penalty", "frequency_penalty"] {
            if let v = try f.number(k), v != 0 { throw .field(k, "not supported (only 0); use repetition_penalty") }
        }
        if let v = f.value("logit_bias") {
            guard case let .object(o) = v, o.isEmpty else { throw .field("logit_bias", "not supported") }
        }
        _ = try f.string("user")
        try f.rejectUnknown()
        do { try c.validate() } catch { throw APIError(status: 400, "\(error)") }
        return CompletionRequest(prompts: prompts, config: c, stop: stop, stream: stream, includeUsage: includeUsage)
    }
}

/// The completion objects, spelt as OpenAI's (`null`s included).
struct CompletionChoice: Encodable {
    var text: String
    var index: Int
    var finishReason: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(text, forKey: .text)
        try c.encode(index, forKey: .index)
        try c.encodeNil(forKey: .logprobs)
        try c.encode(finishReason, forKey: .finish_reason)
    }
    enum Keys: String, CodingKey { case text, index, logprobs, finish_reason }
}

struct CompletionUsage: Encodable {
    var prompt_tokens: Int
    var completion_tokens: Int
    var total_tokens: Int
}

struct CompletionObject: Encodable {
    var id: String
    var object = "text_completion"
    var created: Int
    var model: String
    var choices: [CompletionChoice]
    var usage: CompletionUsage?
    /// Streams send `"usage": null` on every chunk but the usage one when usage was asked for.
    var explicitNullUsage = false

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        if let usage { try c.encode(usage, forKey: .usage) } else if explicitNullUsage { try c.encodeNil(forKey: .usage) }
    }
    enum Keys: String, CodingKey { case id, object, created, model, choices, usage }
}

/// One prompt of a completion request while it decodes.
private struct ChoiceState {
    var progress: FillProgress
    var deltas: TextDeltas
    var tokens = 0
    var finishReason: String?
    var text = ""

    /// The text added by a token ("" when nothing new is safe to show); sets `stopped` on a stop sequence.
    mutating func token(blank: Int, id: Int) -> String {
        tokens += 1
        progress.add(blank: blank, id: id)
        return deltas.next(progress.generatedText())
    }

    /// The rest of the text at the end.
    mutating func finish(_ result: Result<FillResult, any Error>, prompt: String, tokenizer: GLMTokenizer) throws(APIError) -> String {
        switch result {
        case let .success(r):
            let filled = FilledText(prompt: prompt, result: r, tokenizer: tokenizer)
            let final = progress.promptHasBlanks ? filled.text : (filled.fillTexts.first ?? "")
            let wasStopped = deltas.stopped
            let delta = deltas.next(final, final: true)
            if deltas.stopped {
                finishReason = "stop"
                text = deltas.text
            } else {
                if !wasStopped { tokens = filled.generatedTokens }
                finishReason = r.fills.contains { $0.stop == "length" } ? "length" : "stop"
                text = final
            }
            return delta
        case let .failure(e):
            guard deltas.stopped, e is CancellationError else { throw APIError.from(e) }
            finishReason = "stop"
            text = deltas.text
            return ""
        }
    }
}

private enum Merged: Sendable {
    case token(Int, blank: Int, id: Int)
    case finished(Int, Result<FillResult, any Error>)
}

extension GLMServer {
    /// `POST /v1/completions` (docs/serve.md): each prompt with blanks gets them filled (its
    /// `text` is the filled prompt), any other is continued after `[gMASK]` (its `text` is the
    /// continuation). All prompts of a request decode together with everyone else's.
    func addCompletionsRoute(_ router: Router<ServeContext>) {
        router.post("/v1/completions") { [self] request, context in
            let start = ServerMetrics.now()
            let req = try CompletionRequest.parse(try await body(request), model: model, maxTokens: options.maxTokens)
            let prepared = try req.prompts.enumerated().map { (i: Int, p: String) throws(APIError) -> PreparedPrompt in
                do throws(APIError) {
                    let pp = try prepare(text: p, field: "prompt", config: req.config, maxField: "max_tokens")
                    if pp.hasBlanks && !req.stop.isEmpty {
                        throw APIError.field("stop", "stop sequences apply to continuations; a prompt with blanks fills each blank until its end")
                    }
                    return pp
                } catch where req.prompts.count > 1 {
                    throw APIError(status: error.status, "prompt \(i + 1): \(error.message)", param: error.param)
                }
            }
            var decodings: [Decoding] = []
            do {
                for p in prepared { decodings.append(try await submit(p, context: context)) }
            } catch {
                for d in decodings { d.cancel() }
                throw error
            }
            let id = "cmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
            let created = Int(Date().timeIntervalSince1970)
            let tokenizer = model.tokenizer, tokens = model.tokens, modelID = model.id
            let stop = req.stop
            let ds = decodings
            @Sendable func states() -> [ChoiceState] {
                prepared.map { ChoiceState(progress: FillProgress(context: $0.context, tokens: tokens, tokenizer: tokenizer, promptHasBlanks: $0.hasBlanks),
                                           deltas: TextDeltas(stops: stop)) }
            }
            @Sendable func usage(_ s: [ChoiceState]) -> CompletionUsage {
                let p = prepared.reduce(0) { $0 + $1.context.count }, c = s.reduce(0) { $0 + $1.tokens }
                return CompletionUsage(prompt_tokens: p, completion_tokens: c, total_tokens: p + c)
            }

            guard req.stream else {
                var s = states()
                try await Self.together(ds) { event in
                    switch event {
                    case let .token(i, blank, tid):
                        guard !s[i].deltas.stopped else { return }
                        _ = s[i].token(blank: blank, id: tid)
                        if s[i].deltas.stopped { ds[i].cancel() }
                    case let .finished(i, r):
                        _ = try s[i].finish(r, prompt: prepared[i].prompt, tokenizer: tokenizer)
                    }
                }
                return try Reply.json(CompletionObject(id: id, created: created, model: modelID,
                                                       choices: s.enumerated().map { CompletionChoice(text: $1.text, index: $0, finishReason: $1.finishReason) },
                                                       usage: usage(s)))
            }
            return ServerSentEvents.response(server: self, endpoint: "/v1/completions", start: start) { send in
                defer { for d in ds { d.close() } }
                var s = states()
                func chunk(_ choices: [CompletionChoice], usage: CompletionUsage? = nil) -> String {
                    ServerSentEvents.json(CompletionObject(id: id, created: created, model: modelID, choices: choices, usage: usage,
                                                           explicitNullUsage: req.includeUsage))
                }
                do {
                    try await Self.together(ds) { event in
                        switch event {
                        case let .token(i, blank, tid):
                            guard !s[i].deltas.stopped else { return }
                            let delta = s[i].token(blank: blank, id: tid)
                            if s[i].deltas.stopped { ds[i].cancel() }
                            if !delta.isEmpty { try await send(nil, chunk([CompletionChoice(text: delta, index: i)])) }
                        case let .finished(i, r):
                            let delta = try s[i].finish(r, prompt: prepared[i].prompt, tokenizer: tokenizer)
                            try await send(nil, chunk([CompletionChoice(text: delta, index: i, finishReason: s[i].finishReason)]))
                        }
                    }
                } catch let e as APIError {
                    // OpenAI clients read an object with "error" in a data line as a failure.
                    try await send(nil, String(decoding: e.json, as: UTF8.self))
                    try await send(nil, "[DONE]")
                    return e.status
                }
                if req.includeUsage { try await send(nil, chunk([], usage: usage(s))) }
                try await send(nil, "[DONE]")
                return 200
            }
        }
    }

    /// Runs decodings concurrently and hands their tokens and ends to `body` one at a time, in
    /// the order they happen. When `body` throws, the remaining decodings are cancelled.
    private static func together(_ ds: [Decoding], _ body: (Merged) async throws -> Void) async throws {
        let (merged, sink) = AsyncStream.makeStream(of: Merged.self, bufferingPolicy: .unbounded)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, d) in ds.enumerated() {
                group.addTask {
                    let r = try await d.run { blank, id in sink.yield(.token(i, blank: blank, id: id)); return true }
                    sink.yield(.finished(i, r))
                }
            }
            var left = ds.count
            for await e in merged {
                try await body(e)
                if case .finished = e { left -= 1 }
                if left == 0 { break }
            }
            sink.finish()
            try await group.waitForAll()
        }
    }
}
