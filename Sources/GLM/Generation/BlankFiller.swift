import Foundation
import GLMTensor
import GLMTokenizers

/// Special ids blank filling needs (from the tokenizer's command tokens).
public struct BlankFillingTokens: Sendable, Equatable {
    /// Start of piece: fed first at every blank.
    public var sop: Int
    /// End of piece: the normal end of a fill (not part of it).
    public var eop: Int
    /// End of text: also ends a fill, as in the official generator (`end_tokens = [eop, eod]`).
    public var eos: Int
    /// [MASK], [sMASK], [gMASK] — whichever the tokenizer has. Every one of them in a context is a
    /// blank to fill.
    public var masks: [Int]
    /// The mask a context without any blank gets: [gMASK] where the tokenizer has it, else [MASK]
    /// (the official `'[gMASK]' if args.task_mask else '[MASK]'`).
    public var generationMask: Int

    /// `generationMask` defaults to the last of `masks`.
    public init(sop: Int, eop: Int, eos: Int, masks: [Int], generationMask: Int? = nil) {
        self.sop = sop; self.eop = eop; self.eos = eos; self.masks = masks
        self.generationMask = generationMask ?? masks.last ?? -1
    }

    /// The ids of `tokenizer`, as the official tokenizers derive them (docs/official-glm.md §3).
    public init(tokenizer: GLMTokenizer) {
        let c = tokenizer.commands
        self.init(sop: c.sop, eop: c.eop, eos: c.eos, masks: [c.mask] + [c.sMask, c.gMask].compactMap { $0 },
                  generationMask: c.gMask ?? c.mask)
    }
}

/// The fill of one blank: where its mask stands in the context and what was generated.
public struct BlankFill: Sendable, Codable, Equatable {
    /// Index of the mask token in the context ids.
    public var maskPosition: Int
    /// The mask token that stood there ([MASK], [sMASK] or [gMASK]).
    public var maskId: Int
    /// The generated ids, without sop and the stop token.
    public var tokens: [Int]
    /// "eop" or "eos" (the stop token chosen), or "length" (`maxNewTokens` reached).
    public var stop: String
    /// Beam search only: the hypothesis score, Σ log p / max(len, 1)^lengthPenalty.
    public var score: Double?

    /// A fill as ``BlankFiller`` reports it.
    public init(maskPosition: Int, maskId: Int, tokens: [Int], stop: String, score: Double? = nil) {
        self.maskPosition = maskPosition; self.maskId = maskId; self.tokens = tokens; self.stop = stop; self.score = score
    }
}

/// Fills every blank of a context as the official generator does (docs/official-glm.md §7.1):
/// the context is encoded once bidirectionally into the KV cache; each mask, left to right, is
/// decoded from sop at position (mask index, step+1) against everything cached so far, so later
/// fills see earlier ones.
///
/// As in the official `generate_samples.py` and the PyTorch reference, the token that ends a fill
/// (the stop token, or the last token at the length limit) is not fed to the model, so later
/// fills see a fill without its last token when it was cut by the length limit.
///
/// Every method runs on ``FillEngine``, the one decoder: a batch of contexts decodes together,
/// each getting exactly the fills it gets alone.
public struct BlankFiller: Sendable {
    /// The model decoded, in whatever mode it is (`bf16` included); dropout is not used here.
    public let model: GLMModel
    public init(model: GLMModel) { self.model = model }

    /// The most tokens a fill may get: `config.maxNewTokens`, capped at the model's
    /// `max_sequence_length` P because a fill's block positions run 1…n in a table of P+1 rows.
    public func maxTokensPerBlank(_ config: GenerationConfig) -> Int {
        min(config.maxNewTokens, model.config.maxSequenceLength)
    }

    /// `config` with ``maxTokensPerBlank(_:)`` applied (and the minimum kept below it).
    public func capped(_ config: GenerationConfig) -> GenerationConfig {
        var cfg = config
        cfg.maxNewTokens = maxTokensPerBlank(config)
        cfg.minNewTokens = min(cfg.minNewTokens, cfg.maxNewTokens)
        return cfg
    }

    /// The context ``fill(context:tokens:config:onToken:)`` decodes for `context`: unchanged when
    /// it has a mask, otherwise with `tokens.generationMask` in place of its trailing eos
    /// (appended when there is none). Throws ``GLMError/invalidInput(_:)`` for an empty context,
    /// one longer than the model's positions (saying both lengths) or ids outside the vocabulary,
    /// so a caller can check a whole batch before generating anything.
    public func prepare(context: [Int], tokens: BlankFillingTokens) throws -> [Int] {
        guard !context.isEmpty else { throw GLMError.invalidInput("empty prompt") }
        guard !tokens.masks.isEmpty else { throw GLMError.invalidInput("the tokenizer defines no mask token") }
        var ctx = context
        if !ctx.contains(where: tokens.masks.contains) {
            if ctx.count > 1 && ctx.last == tokens.eos { ctx.removeLast() }
            ctx.append(tokens.generationMask)
        }
        let p = model.config.maxSequenceLength
        guard ctx.count <= p else {
            throw GLMError.invalidInput("the prompt is \(ctx.count) tokens long (counting [CLS], eos and masks); this model takes at most \(p) (max_sequence_length)")
        }
        if let bad = ctx.first(where: { $0 < 0 || $0 >= model.config.vocabSize }) {
            throw GLMError.invalidInput("token id \(bad) is outside the model's vocabulary [0, \(model.config.vocabSize))")
        }
        return ctx
    }

    /// Fills the masks of `context` (ids, e.g. `[CLS] … [MASK] … eos`, see
    /// ``context(for:tokenizer:)``), left to right. A context without any mask gets
    /// `tokens.generationMask` in place of its trailing eos (appended when there is none), which
    /// is what the official generator's text rule produces.
    ///
    /// Greedy or sampled per `config`, or beam search when ``GenerationConfig/usesBeamSearch``.
    /// `onToken(blank ordinal, id)` streams tokens as they are chosen (not with beam search,
    /// whose tokens are only final at the end). Returns the context actually used and one fill per
    /// mask; ``splice(context:fills:)`` puts them together.
    ///
    /// Throws ``GLMError/invalidInput(_:)`` for an empty context, one longer than the model's
    /// positions (saying both lengths) or a bad config.
    public func fill(context: [Int], tokens: BlankFillingTokens, config: GenerationConfig,
                     onToken: ((Int, Int) -> Void)? = nil) throws -> (context: [Int], fills: [BlankFill]) {
        try fill(contexts: [context], tokens: tokens, config: config, onToken: { _, b, t in onToken?(b, t) })[0]
    }

    /// Fills a batch of contexts together on one ``FillEngine`` (up to `maxBatch` sequences per
    /// step), each exactly as ``fill(context:tokens:config:onToken:)`` would alone: every prompt
    /// starts from `config.seed`, and a decoding step computes each sequence on its own, so a
    /// prompt's fills do not depend on the rest of the batch. `onToken(prompt, blank, id)`
    /// streams tokens as they are chosen, and `onFinished(prompt)` says when a prompt's last
    /// fill is done (prompts finish in any order). `blanks`, one list per context, names the mask
    /// positions to decode (nil: every mask, see ``FillEngine/submit(context:config:blanks:onToken:onFinish:)``).
    /// Every context is checked (``prepare(context:tokens:)``) before the first is decoded; errors
    /// name the prompt ("prompt 2: …").
    public func fill(contexts: [[Int]], tokens: BlankFillingTokens, config: GenerationConfig, maxBatch: Int = 16,
                     blanks: [[Int]]? = nil,
                     onToken: ((Int, Int, Int) -> Void)? = nil,
                     onFinished: ((Int) -> Void)? = nil) throws -> [(context: [Int], fills: [BlankFill])] {
        func numbered<T>(_ i: Int, _ body: () throws -> T) throws -> T {
            do { return try body() } catch let GLMError.invalidInput(m) where contexts.count > 1 {
                throw GLMError.invalidInput("prompt \(i + 1): \(m)")
            }
        }
        // Every context is checked before any is decoded, so a bad last prompt costs no work.
        try config.validate()
        let cfg = capped(config)
        if let blanks, blanks.count != contexts.count {
            throw GLMError.invalidInput("\(blanks.count) blank lists for \(contexts.count) contexts")
        }
        let prepared = try contexts.enumerated().map { i, ctx in
            try numbered(i) {
                let p = try prepare(context: ctx, tokens: tokens)
                if let b = blanks?[i] { try FillEngine.checkBlanks(b, context: p, tokens: tokens) }
                return p
            }
        }
        guard !prepared.isEmpty else { return [] }
        let needs = prepared.indices.map { FillEngine.needs(context: prepared[$0], tokens: tokens, config: cfg, blanks: blanks?[$0]) }
        let perContext = needs[0].rows
        let engine = try FillEngine(model: model, tokens: tokens,
                                    rows: perContext * max(1, min(prepared.count, maxBatch / perContext)),
                                    capacity: needs.map(\.tokens).max()!)
        var results = [Result<FillResult, Error>?](repeating: nil, count: prepared.count)
        for (i, ctx) in prepared.enumerated() {
            try numbered(i) {
                _ = try engine.submit(context: ctx, config: cfg, blanks: blanks?[i], onToken: { onToken?(i, $0, $1) },
                                      onFinish: { results[i] = $0; onFinished?(i) })
            }
        }
        engine.drain()
        return try results.enumerated().map { i, r in
            let f = try numbered(i) { try r!.get() }
            return (f.context, f.fills)
        }
    }

    /// The context with every mask replaced by its fill.
    public static func splice(context: [Int], fills: [BlankFill]) -> [Int] {
        var out: [Int] = []
        var next = 0
        for f in fills.sorted(by: { $0.maskPosition < $1.maskPosition }) {
            out += context[next..<f.maskPosition]
            out += f.tokens
            next = f.maskPosition + 1
        }
        out += context[next...]
        return out
    }
}

/// A prompt with its blanks filled, as text: what ``BlankFiller/fill(texts:tokenizer:config:maxBatch:onToken:onFinished:)`` returns.
public struct FilledText: Sendable {
    /// The prompt as given.
    public let prompt: String
    /// The ids decoded: `[CLS]`, the prompt (with the generation mask added when it had no
    /// blank), eos unless it ends with a mask.
    public let context: [Int]
    /// One fill per mask, left to right.
    public let fills: [BlankFill]
    /// The text of each fill.
    public let fillTexts: [String]
    /// The prompt with every blank replaced by its fill (without `[CLS]` and the trailing eos).
    public let text: String

    /// The fills of `result` spliced into its context and rendered as text by `tokenizer`: how
    /// every caller of ``FillEngine`` (``BlankFiller``, the HTTP server) turns fills into text.
    public init(prompt: String, result: FillResult, tokenizer: GLMTokenizer) {
        var spliced = BlankFiller.splice(context: result.context, fills: result.fills)
        if spliced.first == tokenizer.commands.cls { spliced.removeFirst() }
        if spliced.last == tokenizer.commands.eos { spliced.removeLast() }
        self.prompt = prompt
        context = result.context
        fills = result.fills
        fillTexts = result.fills.map { tokenizer.decode($0.tokens) }
        text = tokenizer.decode(spliced)
    }

    /// Generated tokens over all fills.
    public var generatedTokens: Int { fills.reduce(0) { $0 + $1.tokens.count } }

    /// The filled prompt with each fill wrapped by `mark` (e.g. `{ "[" + $0 + "]" }`), every
    /// piece decoded on its own.
    public func marked(tokenizer: GLMTokenizer, _ mark: (String) -> String) -> String {
        let c = tokenizer.commands
        func plain(_ ids: ArraySlice<Int>) -> String { tokenizer.decode(ids.filter { $0 != c.cls && $0 != c.eos }) }
        var pieces: [String] = []
        var next = 0
        for (f, t) in zip(fills, fillTexts) {
            pieces.append(plain(context[next..<f.maskPosition]))
            pieces.append(mark(t))
            next = f.maskPosition + 1
        }
        pieces.append(plain(context[next...]))
        return pieces.filter { !$0.isEmpty }.joined(separator: " ")
    }
}

extension BlankFiller {
    /// Fills the blanks of text prompts: each is tokenised as the official generator does
    /// (``context(for:tokenizer:)``, which adds `[gMASK]` to a prompt without a blank), all are
    /// checked, then filled together (``fill(contexts:tokens:config:maxBatch:onToken:onFinished:)``), and the
    /// fills are spliced back and rendered as text. `onToken(prompt, blank, id)` streams tokens;
    /// `onFinished(prompt)` says when a prompt is done.
    ///
    /// Throws ``GLMError/invalidInput(_:)`` naming the prompt at fault ("prompt 2: …") for an
    /// empty prompt, a command-token look-alike, one too long for the model, or a tokenizer whose
    /// vocabulary is larger than the model's.
    public func fill(texts: [String], tokenizer: GLMTokenizer, config: GenerationConfig, maxBatch: Int = 16,
                     onToken: ((Int, Int, Int) -> Void)? = nil, onFinished: ((Int) -> Void)? = nil) throws -> [FilledText] {
        guard tokenizer.numTokens <= model.config.vocabSize else {
            throw GLMError.invalidInput("the tokenizer has \(tokenizer.numTokens) ids but the model's vocabulary has \(model.config.vocabSize) rows; they do not belong together")
        }
        let contexts = try texts.enumerated().map { i, t in
            do { return try Self.context(for: t, tokenizer: tokenizer) } catch let GLMError.invalidInput(m) where texts.count > 1 {
                throw GLMError.invalidInput("prompt \(i + 1): \(m)")
            }
        }
        let tokens = BlankFillingTokens(tokenizer: tokenizer)
        let filled = try fill(contexts: contexts, tokens: tokens, config: config, maxBatch: maxBatch, onToken: onToken,
                              onFinished: onFinished)
        return zip(texts, filled).map { prompt, f in
            FilledText(prompt: prompt, result: FillResult(context: f.context, fills: f.fills), tokenizer: tokenizer)
        }
    }

    /// One prompt: ``fill(texts:tokenizer:config:maxBatch:onToken:onFinished:)`` with `onToken(blank, id)`.
    public func fill(text: String, tokenizer: GLMTokenizer, config: GenerationConfig,
                     onToken: ((Int, Int) -> Void)? = nil) throws -> FilledText {
        try fill(texts: [text], tokenizer: tokenizer, config: config, onToken: { _, b, t in onToken?(b, t) })[0]
    }
}

extension BlankFiller {
    /// The context ids of `text` as the official generator builds them (docs/official-glm.md §7.1,
    /// `generate_samples.py:read_context`): `" [gMASK]"` (or `" [MASK]"` for a tokenizer without
    /// task masks) is appended when the text has no mask; then `[CLS] + enc(text)`, plus eos
    /// unless the text ends with a mask.
    ///
    /// Throws ``GLMError/invalidInput(_:)`` for an empty prompt, or for a bracketed word that looks
    /// like a command token but is not one of this tokenizer's spellings (`[mask]` for `[MASK]`,
    /// `[gMASK]` with a BERT vocabulary, …), listing the spellings it knows: such text would
    /// otherwise be encoded as plain characters and silently leave a blank unfilled.
    public static func context(for text: String, tokenizer: GLMTokenizer) throws -> [Int] {
        guard !text.unicodeScalars.allSatisfy(\.properties.isWhitespace) else {
            throw GLMError.invalidInput("the prompt is empty; give some text, e.g. \"GLM is a [MASK] model.\"")
        }
        let known = Set(tokenizer.commandList.map(\.token))
        if let bad = commandLookalikes(in: text).first(where: { !known.contains($0) }) {
            let spellings = tokenizer.commandList.map(\.token).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            let tokens = BlankFillingTokens(tokenizer: tokenizer)
            let masks = tokens.masks.compactMap { tokenizer.tokenString($0) }
            throw GLMError.invalidInput("\(bad.debugDescription) is not a command token of this tokenizer (\(tokenizer.family.rawValue)); blanks are \(masks.joined(separator: ", ")), and the command tokens it knows are \(spellings.joined(separator: " ")) (case-sensitive)")
        }
        let tokens = BlankFillingTokens(tokenizer: tokenizer)
        var raw = text
        var ids = tokenizer.encode(raw)
        if !ids.contains(where: tokens.masks.contains) {
            raw += " " + (tokenizer.tokenString(tokens.generationMask) ?? "[gMASK]")
            ids = tokenizer.encode(raw)
        }
        var ctx = [tokenizer.commands.cls] + ids
        if !raw.hasSuffix("MASK]") { ctx.append(tokenizer.commands.eos) }
        return ctx
    }

    /// Bracketed words that look like GLM command tokens: `[…]` or `<|…|>` around letters, digits
    /// and `_`, whose name mentions MASK or, ignoring case, is a GLM command name (CLS, SEP, PAD,
    /// UNK, ENC, EOS, SOP, EOP, dBLOCK, startofpiece, endofpiece, endoftext). `[1]` or `[Note]`
    /// are ordinary text and pass.
    static func commandLookalikes(in text: String) -> [String] {
        let names: Set<String> = ["CLS", "SEP", "PAD", "UNK", "ENC", "EOS", "EOP", "SOP", "DBLOCK",
                                  "STARTOFPIECE", "ENDOFPIECE", "ENDOFTEXT"]
        func isWord(_ u: Unicode.Scalar) -> Bool { u.properties.isAlphabetic || ("0"..."9").contains(u) || u == "_" }
        let s = Array(text.unicodeScalars)
        var found: [String] = []
        var i = 0
        while i < s.count {
            let open: [Unicode.Scalar], close: [Unicode.Scalar]
            if s[i] == "[" { (open, close) = (["["], ["]"]) }
            else if s[i] == "<" && i + 1 < s.count && s[i + 1] == "|" { (open, close) = (["<", "|"], ["|", ">"]) }
            else { i += 1; continue }
            var j = i + open.count
            while j < s.count && isWord(s[j]) && j - i < 40 { j += 1 }
            let name = String(String.UnicodeScalarView(s[(i + open.count)..<j]))
            let upper = name.uppercased()
            if !name.isEmpty, j + close.count <= s.count, Array(s[j..<(j + close.count)]) == close,
               upper.contains("MASK") || names.contains(upper) {
                found.append(String(String.UnicodeScalarView(s[i..<(j + close.count)])))
                i = j + close.count
            } else {
                i += 1
            }
        }
        return found
    }
}
