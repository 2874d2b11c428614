import Foundation
import GLM
import GLMSystem
import Hummingbird

/// The body of `POST /v1/fill`: `text` plus the decoding settings of `glm generate`, named as its
/// flags in snake_case, with its defaults (docs/generate.md), and `stream`.
struct FillRequest {
    var text: String
    var config: GenerationConfig
    var stream: Bool

    /// Every field the endpoint reads (all others are errors).
    static let fields = ["text", "stream", "greedy", "temperature", "top_k", "top_p", "num_beams", "length_penalty", "early_stopping",
                         "min_new_tokens", "max_new_tokens", "no_repeat_ngram", "repetition_penalty", "ban_id", "ban_padding", "seed"]

    /// Parses and checks a body; every error is a 400 naming its field.
    static func parse(_ body: Data, model: ServedModel, maxTokens: Int) throws(APIError) -> FillRequest {
        var f = try RequestFields(body)
        guard let text = try f.string("text") else { throw .field("text", "required: the text to fill, e.g. \"Paris is the [MASK] of France.\"") }
        var c = GenerationConfig()
        if let v = try f.bool("greedy") { c.greedy = v }
        if let v = try f.number("temperature") {
            guard c.greedy || v > 0 && Float(v).isFinite else { throw .field("temperature", "must be > 0, got \(v)") }
            c.temperature = Float(v)
        }
        if let v = try f.int("top_k") {
            guard v >= 0 else { throw .field("top_k", "must be ≥ 0 (0: no limit), got \(v)") }
            c.topK = v
        }
        if let v = try f.number("top_p") {
            guard (0...1).contains(v) else { throw .field("top_p", "must be in [0, 1] (0 or 1: no limit), got \(v)") }
            c.topP = Float(v)
        }
        if let v = try f.int("num_beams") {
            guard v >= 1 else { throw .field("num_beams", "must be ≥ 1, got \(v)") }
            c.numBeams = v
        }
        if let v = try f.number("length_penalty") { c.lengthPenalty = Float(v) }
        if let v = try f.bool("early_stopping") { c.earlyStopping = v }
        c.maxNewTokens = min(c.maxNewTokens, maxTokens)
        if let v = try f.int("max_new_tokens") {
            guard v >= 1 else { throw .field("max_new_tokens", "must be ≥ 1, got \(v)") }
            guard v <= maxTokens else { throw .field("max_new_tokens", "at most \(maxTokens) tokens per blank on this server (--max-tokens), got \(v)") }
            c.maxNewTokens = v
        }
        if let v = try f.int("min_new_tokens") {
            guard v >= 0, v <= c.maxNewTokens else { throw .field("min_new_tokens", "must be in [0, max_new_tokens = \(c.maxNewTokens)], got \(v)") }
            c.minNewTokens = v
        }
        if let v = try f.int("no_repeat_ngram") {
            guard v >= 0 else { throw .field("no_repeat_ngram", "must be ≥ 0 (0: off), got \(v)") }
            c.noRepeatNgram = v
        }
        if let v = try f.number("repetition_penalty") {
            guard v > 0 else { throw .field("repetition_penalty", "must be > 0 (1: off), got \(v)") }
            c.repetitionPenalty = Float(v)
        }
        if let v = f.value("ban_id") {
            guard case let .array(items) = v else { throw .field("ban_id", "expected an array of token ids, got \(v.typeName)") }
            let vocab = model.model.config.vocabSize
            for item in items {
                let id = try RequestFields.int(item, "ban_id")
                guard (0..<vocab).contains(id) else { throw .field("ban_id", "token id \(id) is outside the vocabulary [0, \(vocab))") }
                c.bannedIds.append(id)
            }
        }
        if try f.bool("ban_padding") ?? true { c = model.withPaddingBanned(c) }
        if let v = try f.seed("seed") { c.seed = v }
        let stream = try f.bool("stream") ?? false
        try f.rejectUnknown()
        do { try c.validate() } catch { throw APIError(status: 400, "\(error)") }
        return FillRequest(text: text, config: c, stream: stream)
    }
}

/// One `token` or `start`/`end` event of a `/v1/fill` stream: the prompt as it stands.
struct FillEvent: Encodable {
    var text: String
    var fills: [FillView.Span]
    var blank: Int?
    var id: Int?
    var prompt: String?
    var blanks: Int?
}

extension GLMServer {
    /// `POST /v1/fill`: the same object as `glm generate --json` prints for the text, or with
    /// `"stream": true` the events `start`, `token`…, `end`, `done` (docs/serve.md).
    func addFillRoute(_ router: Router<ServeContext>) {
        router.post("/v1/fill") { [self] request, context in
            let start = ServerMetrics.now()
            let req = try FillRequest.parse(try await body(request), model: model, maxTokens: options.maxTokens)
            let prepared = try prepare(text: req.text, field: "text", config: req.config, maxField: "max_new_tokens")
            let decoding = try await submit(prepared, context: context)
            let tokenizer = model.tokenizer, tokens = model.tokens
            @Sendable func object(_ result: FillResult) -> FilledTextJSON {
                FilledTextJSON(FilledText(prompt: req.text, result: result, tokenizer: tokenizer), tokenizer: tokenizer,
                               seconds: ServerMetrics.now() - start)
            }
            guard req.stream else {
                return Reply.json(try object(try await decoding.run().value()).encoded())
            }
            let blanks = prepared.context.filter(model.tokens.masks.contains).count
            return ServerSentEvents.response(server: self, endpoint: "/v1/fill", start: start) { send in
                defer { decoding.close() }
                var progress = FillProgress(context: prepared.context, tokens: tokens, tokenizer: tokenizer, promptHasBlanks: true)
                let v = progress.view()
                try await send("start", ServerSentEvents.json(FillEvent(text: v.text, fills: v.fills, prompt: req.text, blanks: blanks)))
                let result = try await decoding.run { blank, id in
                    progress.add(blank: blank, id: id)
                    let v = progress.view()
                    try await send("token", ServerSentEvents.json(FillEvent(text: v.text, fills: v.fills, blank: blank, id: id)))
                    return true
                }
                switch result {
                case let .success(r):
                    progress.finish(r)
                    let v = progress.view()
                    try await send("end", ServerSentEvents.json(FillEvent(text: v.text, fills: v.fills)))
                    try await send("done", String(decoding: try object(r).encoded(), as: UTF8.self))
                    return 200
                case let .failure(e):
                    let error = APIError.from(e)
                    try await send("error", String(decoding: error.json, as: UTF8.self))
                    return error.status
                }
            }
        }
    }
}
