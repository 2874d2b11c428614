import Foundation
import GLMTensor

/// The fills of one context, as ``FillEngine`` delivers them.
public struct FillResult: Sendable {
    /// The context decoded (with the generation mask added when the prompt had no blank).
    public let context: [Int]
    /// One fill per mask, left to right.
    public let fills: [BlankFill]

    /// A result as the engine reports it (also how callers rebuild one from stored fills).
    public init(context: [Int], fills: [BlankFill]) {
        self.context = context
        self.fills = fills
    }
}

/// Fills the blanks of many contexts at once on one model and one ``KVCache``: continuous
/// batching. Each context is encoded alone (its bidirectional pass over its own cache row), then
/// joins the running batch: every ``step()`` feeds one token to every active sequence in a
/// single forward pass, and a context submitted meanwhile joins at the next step.
///
/// A context's fills are exactly those it gets alone: its context pass runs alone, and a
/// decoding step computes every sequence on its own (per-sequence cached attention,
/// row-independent GEMV kernels), so neither the numbers nor the sampling stream (one per
/// context, from `config.seed`) depend on the other contexts.
///
/// Decoding follows the official generator (docs/official-glm.md §7.1): masks left to right;
/// each fill starts from sop at position (mask index, 1), block positions counting up; later
/// fills see earlier ones; the token that ends a fill (a stop token, or the last one at the
/// length limit) is not fed. Sampling uses one cache row per context; beam search one row for
/// the context and its finished fills plus one per beam. The official evaluators' variants are
/// settings of the same decoder: ``GenerationConfig/stopAtEos`` (seq2seq and blank infilling end
/// at eop only), ``GenerationConfig/blanksAsOneStream`` (blank infilling's shared budget and
/// n-grams) and the `blanks` of ``submit(context:config:blanks:onToken:onFinish:)`` (seq2seq
/// decodes at the first mask of its layout only).
///
/// ``submit(context:config:onToken:onFinish:)`` and ``cancel(_:)`` may be called from any
/// thread; ``step()`` from one thread at a time, which is also where the callbacks run.
public final class FillEngine: @unchecked Sendable {
    public let model: GLMModel
    public let tokens: BlankFillingTokens
    /// Sequences (cache rows) and tokens per sequence the engine holds.
    public let rows: Int
    public let capacity: Int
    let cache: KVCache
    private var freeRows: [Int]
    private var waiting: [Job] = []
    private var active: [Job] = []
    private var cancelled: Set<Int> = []
    private var nextID = 0
    private let lock = NSLock()

    /// An engine of `rows` cache rows of `capacity` tokens each (the memory is
    /// `2 · layers · rows · capacity · hidden` floats, see ``KVCache/bytes(rows:capacity:layers:hidden:)``).
    public init(model: GLMModel, tokens: BlankFillingTokens, rows: Int, capacity: Int) throws {
        guard rows > 0, capacity > 0 else { throw GLMError.invalidInput("a fill engine needs rows and capacity > 0, got \(rows) and \(capacity)") }
        self.model = model
        self.tokens = tokens
        self.rows = rows
        self.capacity = capacity
        cache = model.makeCache(rows: rows, capacity: capacity)
        freeRows = Array((0..<rows).reversed())
    }

    /// The cache rows and tokens per row a context needs: one row, plus one per beam for beam
    /// search; its tokens, plus sop and every fed token of each blank (`blanks`: the mask
    /// positions decoded, nil for every mask).
    public static func needs(context: [Int], tokens: BlankFillingTokens, config: GenerationConfig,
                             blanks: [Int]? = nil) -> (rows: Int, tokens: Int) {
        let masks = blanks?.count ?? context.filter(tokens.masks.contains).count
        return (config.usesBeamSearch ? 1 + max(config.numBeams, 1) : 1, context.count + masks * (config.maxNewTokens + 1))
    }

    /// `blanks` checked against `context`: positions in order, each holding one of the masks.
    static func checkBlanks(_ blanks: [Int], context: [Int], tokens: BlankFillingTokens) throws {
        guard !blanks.isEmpty else { throw GLMError.invalidInput("no blank to fill was given") }
        for (i, p) in blanks.enumerated() {
            guard p >= 0, p < context.count, tokens.masks.contains(context[p]) else {
                throw GLMError.invalidInput("blank position \(p) does not hold a mask token of the \(context.count)-token context")
            }
            guard i == 0 || p > blanks[i - 1] else { throw GLMError.invalidInput("blank positions must increase, got \(blanks)") }
        }
    }

    /// Contexts submitted and not yet finished or cancelled.
    public var pending: Int { lock.withLock { waiting.count + active.count } }
    /// Contexts waiting for free rows.
    public var queued: Int { lock.withLock { waiting.count } }

    /// Queues a context (already ``BlankFiller/prepare(context:tokens:)``d, with `config`'s
    /// `maxNewTokens` already capped) and returns its ticket. `blanks` names the mask positions to
    /// decode, in order (nil: every mask; the official seq2seq evaluator decodes only the first
    /// mask of its layout, and any other mask id in the source is ordinary context).
    /// `onToken(blank, id)` sees sampled tokens as they are chosen (not beam search's); `onFinish`
    /// gets the fills, or the error.
    ///
    /// Throws ``GLMError/invalidInput(_:)`` for a bad config, blanks that are not masks of the
    /// context, or a context that can never fit this engine's rows or capacity.
    @discardableResult
    public func submit(context: [Int], config: GenerationConfig, blanks: [Int]? = nil, onToken: ((Int, Int) -> Void)? = nil,
                       onFinish: @escaping (Result<FillResult, Error>) -> Void) throws -> Int {
        try config.validate()
        if let blanks { try Self.checkBlanks(blanks, context: context, tokens: tokens) }
        guard context.contains(where: tokens.masks.contains) else { throw GLMError.invalidInput("the context has no blank to fill") }
        let need = Self.needs(context: context, tokens: tokens, config: config, blanks: blanks)
        guard need.rows <= rows else {
            throw GLMError.invalidInput("\(config.numBeams) beams need \(need.rows) cache rows; this engine has \(rows)")
        }
        guard need.tokens <= capacity else {
            throw GLMError.invalidInput("the prompt (\(context.count) tokens) with its fills (up to \(need.tokens) tokens) does not fit the engine's \(capacity) tokens per sequence")
        }
        return lock.withLock {
            nextID += 1
            waiting.append(Job(id: nextID, context: context, blanks: blanks, config: config, tokens: tokens, onToken: onToken,
                               onFinish: onFinish))
            return nextID
        }
    }

    /// Stops decoding a context; its `onFinish` gets `CancellationError` at the next step.
    public func cancel(_ ticket: Int) { _ = lock.withLock { cancelled.insert(ticket) } }

    /// Admits waiting contexts that fit the free rows (encoding each), then feeds one token to
    /// every active sequence in one forward pass. Returns false when there was nothing to do.
    @discardableResult
    public func step() -> Bool {
        let dropped = lock.withLock { () -> [Job] in
            let gone = cancelled
            cancelled = []
            let dropped = waiting.filter { gone.contains($0.id) } + active.filter { gone.contains($0.id) }
            waiting.removeAll { gone.contains($0.id) }
            return dropped
        }
        for j in dropped { finish(j, .failure(CancellationError())) }
        // First come, first served: a context waits until enough rows are free, and later ones wait behind it.
        let admitted = lock.withLock { () -> [Job] in
            var admitted: [Job] = []
            while let j = waiting.first, j.rowsNeeded <= freeRows.count {
                waiting.removeFirst()
                j.rows = (0..<j.rowsNeeded).map { _ in freeRows.removeLast() }
                admitted.append(j)
            }
            return admitted
        }
        for j in admitted {
            lock.withLock { active.append(j) }
            do { try encode(j) } catch { finish(j, .failure(error)) }
        }
        let running = lock.withLock { active.filter { !$0.done } }
        guard !running.isEmpty else { return !admitted.isEmpty || !dropped.isEmpty }
        var ids: [Int32] = [], pos: [Int32] = [], slots: [Int] = []
        for j in running {
            for (r, t) in zip(j.feedRows, j.inputs) {
                ids.append(Int32(t))
                pos += [Int32(j.maskPositions[j.blank]), Int32(j.stepInBlank + 1)]
                slots.append(r)
            }
        }
        let logits: [[Float]]
        do {
            let b = slots.count, v = model.config.vocabSize
            let out = try model(inputIds: Tensor(int32: ids, shape: [b, 1]), positionIds: Tensor(int32: pos, shape: [b, 2, 1]),
                                mask: .separators([Int32](repeating: 0, count: b)), cache: CacheSlots(cache, rows: slots),
                                lastOnly: true).toArray()
            logits = (0..<b).map { Array(out[($0 * v)..<(($0 + 1) * v)]) }
        } catch {
            for j in running { finish(j, .failure(error)) }
            return true
        }
        // The decoders choose side by side (each touches only its own job's state; with many
        // rows, sorting and exponentiating vocabulary rows is a sizeable part of a step), then
        // the outcomes are applied in order.
        var starts: [Int] = [], at = 0
        for j in running { starts.append(at); at += j.feedRows.count }
        var outcomes = [DecoderStep?](repeating: nil, count: running.count)
        outcomes.withUnsafeMutableBufferPointer { out in
            let o = SendablePointer(out.baseAddress!)
            parallelFor(running.count) { range in
                for k in range {
                    let j = running[k], mine = Array(logits[starts[k]..<(starts[k] + j.feedRows.count)])
                    o[k] = j.beam != nil ? j.beam!.next(mine) : j.sampler!.next(mine[0])
                }
            }
        }
        for (j, outcome) in zip(running, outcomes) {
            do { try advance(j, outcome!) } catch { finish(j, .failure(error)) }
        }
        return true
    }

    /// Runs ``step()`` until every submitted context is finished.
    public func drain() { while pending > 0 { step() } }

    // MARK: one context

    final class Job {
        let id: Int
        let context: [Int]
        let maskPositions: [Int]
        let config: GenerationConfig
        let stops: [Int]
        let rng: RandomState
        let onToken: ((Int, Int) -> Void)?
        let onFinish: (Result<FillResult, Error>) -> Void
        var history: [Int]
        var fills: [BlankFill] = []
        var blank = 0
        var stepInBlank = 0
        var inputs: [Int] = []
        var sampler: SampleDecoder?
        var beam: BeamDecoder?
        /// rows[0]: the context and finished fills; rows[1...]: one per beam.
        var rows: [Int] = []
        var done = false

        init(id: Int, context: [Int], blanks: [Int]?, config: GenerationConfig, tokens: BlankFillingTokens,
             onToken: ((Int, Int) -> Void)?, onFinish: @escaping (Result<FillResult, Error>) -> Void) {
            self.id = id
            self.context = context
            maskPositions = blanks ?? context.indices.filter { tokens.masks.contains(context[$0]) }
            self.config = config
            stops = config.stopAtEos ? [tokens.eop, tokens.eos] : [tokens.eop]
            rng = RandomState(seed: config.seed)
            self.onToken = onToken
            self.onFinish = onFinish
            // The repetition penalty looks at the prompt's text and the fills, not at the command
            // tokens around them ([CLS], eos, masks), which would otherwise make stopping less likely.
            let special = Set(tokens.masks + [tokens.sop, tokens.eop, tokens.eos])
            history = context.dropFirst().filter { !special.contains($0) }
        }

        var rowsNeeded: Int { config.usesBeamSearch ? 1 + max(config.numBeams, 1) : 1 }
        /// The rows fed this step: the context row when sampling, the beam rows for beam search.
        var feedRows: [Int] { config.usesBeamSearch ? Array(rows.dropFirst()) : [rows[0]] }
    }

    private func encode(_ j: Job) throws {
        let n = j.context.count
        cache.truncate(row: j.rows[0], to: 0)
        _ = try model.hiddenStates(inputIds: Tensor(int32: j.context.map(Int32.init), shape: [1, n]),
                                   positionIds: Tensor(int32: (0..<n).map(Int32.init) + [Int32](repeating: 0, count: n), shape: [1, 2, n]),
                                   mask: .separators([Int32(n)]), cache: CacheSlots(cache, rows: [j.rows[0]]))
        start(j)
    }

    /// Starts decoding the current blank. With one stream for all blanks, a blank whose budget
    /// is already spent (by the earlier fills and the sops between them) stays empty, as the
    /// official `BlankLMEvaluater` leaves it, and so does every later one.
    private func start(_ j: Job) {
        j.stepInBlank = 0
        var prefix: [Int] = []
        if j.config.blanksAsOneStream {
            prefix = j.fills.flatMap { $0.tokens + [tokens.sop] }
            if prefix.count >= j.config.maxNewTokens {
                while j.blank < j.maskPositions.count {
                    let mp = j.maskPositions[j.blank]
                    j.fills.append(BlankFill(maskPosition: mp, maskId: j.context[mp], tokens: [], stop: "length"))
                    j.blank += 1
                }
                finish(j, .success(FillResult(context: j.context, fills: j.fills)))
                return
            }
        }
        if j.config.usesBeamSearch {
            j.beam = BeamDecoder(config: j.config, stopIds: j.stops, history: j.history)
            for r in j.rows.dropFirst() { cache.copy(row: j.rows[0], to: r) }
            j.inputs = [Int](repeating: tokens.sop, count: j.rows.count - 1)
        } else {
            j.sampler = SampleDecoder(config: j.config, stopIds: j.stops, history: j.history, rng: j.rng, prefix: prefix)
            j.inputs = [tokens.sop]
        }
    }

    /// Applies what the job's decoder chose after its logits of this step.
    private func advance(_ j: Job, _ outcome: DecoderStep) throws {
        switch outcome {
        case let .feed(next, sources):
            if j.beam != nil {
                cache.reorder(rows: Array(j.rows.dropFirst()), sources: sources)
            } else {
                j.onToken?(j.blank, next[0])
            }
            j.inputs = next
            j.stepInBlank += 1
        case let .finished(seq):
            if j.beam == nil, seq.stopToken == nil, let last = seq.tokens.last { j.onToken?(j.blank, last) }
            let mp = j.maskPositions[j.blank]
            let stop = seq.stopToken.map { $0 == tokens.eop ? "eop" : "eos" } ?? "length"
            j.fills.append(BlankFill(maskPosition: mp, maskId: j.context[mp], tokens: seq.tokens, stop: stop, score: seq.score))
            j.history += seq.tokens
            j.blank += 1
            if j.blank == j.maskPositions.count {
                finish(j, .success(FillResult(context: j.context, fills: j.fills)))
                return
            }
            if j.beam != nil {
                // The chosen fill joins the context of later blanks, as the official generator keeps
                // the chosen hypothesis's memory: sop and every token fed (not the last one at the
                // length limit).
                let fed = [tokens.sop] + (seq.stopToken == nil ? Array(seq.tokens.dropLast()) : seq.tokens)
                let n = fed.count
                _ = try model.hiddenStates(inputIds: Tensor(int32: fed.map(Int32.init), shape: [1, n]),
                                           positionIds: Tensor(int32: [Int32](repeating: Int32(mp), count: n) + (1...n).map(Int32.init), shape: [1, 2, n]),
                                           mask: .separators([0]), cache: CacheSlots(cache, rows: [j.rows[0]]))
            }
            start(j)
        }
    }

    private func finish(_ j: Job, _ result: Result<FillResult, Error>) {
        guard !j.done else { return }
        j.done = true
        lock.withLock {
            active.removeAll { $0 === j }
            for r in j.rows { cache.truncate(row: r, to: 0); freeRows.append(r) }
            j.rows = []
        }
        j.onFinish(result)
    }
}
