import Foundation
import GLMTensor

/// Special ids blank filling needs (from the tokenizer's command tokens).
public struct BlankFillingTokens: Sendable, Equatable {
    public var sop: Int
    public var eop: Int
    public var eos: Int
    /// [MASK], [sMASK], [gMASK] — whichever the tokenizer has.
    public var masks: [Int]

    public init(sop: Int, eop: Int, eos: Int, masks: [Int]) {
        self.sop = sop; self.eop = eop; self.eos = eos; self.masks = masks
    }
}

/// The fill of one blank: where its mask stands in the context and what was generated.
public struct BlankFill: Sendable, Codable, Equatable {
    public var maskPosition: Int
    public var maskId: Int
    public var tokens: [Int]
    public var stop: String
    public var score: Double?
}

/// Fills every blank of a context as the official generator does (glm-spec §7.1): the context is
/// encoded once bidirectionally into the KV cache; each mask, left to right, is decoded from sop
/// at position (mask index, step+1) against everything cached so far, so later fills see earlier
/// ones.
public struct BlankFiller {
    public let model: GLMModel
    public init(model: GLMModel) { self.model = model }

    /// GLM decoding one span against a KV cache: one cache row per beam.
    struct CachedStep: StepModel {
        let model: GLMModel
        var cache: KVCache
        let maskPosition: Int
        var width: Int { cache.batch }

        mutating func step(_ tokens: [Int], step: Int) throws -> [[Float]] {
            let b = tokens.count
            let ids = try Tensor(int32: tokens.map(Int32.init), shape: [b, 1])
            var pos = [Int32]()
            for _ in 0..<b { pos += [Int32(maskPosition), Int32(step + 1)] }
            let logits = try model.forward(inputIds: ids, positionIds: Tensor(int32: pos, shape: [b, 2, 1]),
                                           sep: [Int32](repeating: 0, count: b), cache: cache, lastOnly: true)
            let v = model.config.vocabSize
            return (0..<b).map { Array(UnsafeBufferPointer(start: logits.floats + $0 * v, count: v)) }
        }

        mutating func reorder(_ sources: [Int]) throws { cache.reorder(sources) }
    }

    /// Fills the masks of `context` (ids, e.g. `[CLS] … [MASK] … eos`). A context without any
    /// mask gets [gMASK] (or the first mask id) appended, as the official generator does.
    /// `onToken(blank ordinal, id)` streams tokens as they are chosen (not with beam search).
    public func fill(context: [Int], tokens: BlankFillingTokens, config: GenerationConfig,
                     onToken: ((Int, Int) -> Void)? = nil) throws -> (context: [Int], fills: [BlankFill]) {
        try config.validate()
        guard !context.isEmpty else { throw GLMError.invalidInput("empty prompt") }
        guard let defaultMask = tokens.masks.last else { throw GLMError.invalidInput("the tokenizer defines no mask token") }
        var ctx = context
        if !ctx.contains(where: tokens.masks.contains) { ctx.append(defaultMask) }
        let maskPositions = ctx.indices.filter { tokens.masks.contains(ctx[$0]) }
        let p = model.config.maxSequenceLength
        guard ctx.count <= p else {
            throw GLMError.invalidInput("prompt is \(ctx.count) tokens; this model takes at most \(p) positions")
        }
        let capacity = ctx.count + maskPositions.count * (config.maxNewTokens + 1)
        let cache = model.makeCache(batch: 1, capacity: capacity)
        let n = ctx.count
        _ = try model.forward(inputIds: Tensor(int32: ctx.map(Int32.init), shape: [1, n]),
                              positionIds: Tensor(int32: (0..<n).map(Int32.init) + [Int32](repeating: 0, count: n), shape: [1, 2, n]),
                              sep: [Int32(n)], cache: cache, lastOnly: true)
        let rng = RandomState(seed: config.seed)
        let stops = [tokens.eop, tokens.eos]
        var fills: [BlankFill] = []
        var history = ctx
        for (ordinal, mp) in maskPositions.enumerated() {
            let seq: DecodedSequence
            if config.numBeams > 1 {
                var step = CachedStep(model: model,
                                      cache: KVCache(broadcasting: cache, to: config.numBeams, capacity: capacity),
                                      maskPosition: mp)
                seq = try Decoding.beamSearch(&step, first: tokens.sop, stopIds: stops, history: history, config: config)
                // The chosen fill joins the context of later blanks.
                try appendToCache(cache, [tokens.sop] + seq.tokens, maskPosition: mp)
            } else {
                var step = CachedStep(model: model, cache: cache, maskPosition: mp)
                seq = try Decoding.sample(&step, first: tokens.sop, stopIds: stops, history: history, config: config,
                                          rng: rng, onToken: { onToken?(ordinal, $0) })
                // The last token of a fill cut by the length limit was chosen but not yet fed.
                if seq.stop == "length", let last = seq.tokens.last {
                    _ = try step.step([last], step: seq.tokens.count)
                }
            }
            history += seq.tokens
            fills.append(BlankFill(maskPosition: mp, maskId: ctx[mp], tokens: seq.tokens, stop: seq.stop, score: seq.score))
        }
        return (ctx, fills)
    }

    private func appendToCache(_ cache: KVCache, _ tokens: [Int], maskPosition: Int) throws {
        let n = tokens.count
        var pos = [Int32](repeating: Int32(maskPosition), count: n)
        pos += (1...n).map(Int32.init)
        _ = try model.forward(inputIds: Tensor(int32: tokens.map(Int32.init), shape: [1, n]),
                              positionIds: Tensor(int32: pos, shape: [1, 2, n]), sep: [0], cache: cache, lastOnly: true)
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
