import Foundation
import GLM
import GLMData
import GLMNN
import GLMTasks
import GLMTensor
import GLMTokenizers

/// The measurements behind `glm bench`: GEMM rates, one GLM layer forward+backward with its
/// MFU, full GLM-Base training steps and cached decoding.
public enum Benchmarks {
    /// Results keyed as in `glm bench --json`.
    public struct Report {
        public var values: [(String, Double)] = []
        /// Adds a result (measurements made outside this target, e.g. `glm bench`'s serve part).
        public mutating func set(_ k: String, _ v: Double) { values.append((k, v)) }
        public subscript(key: String) -> Double? { values.first { $0.0 == key }?.1 }
        public func json() -> String {
            "{" + values.map { "\"\($0.0)\": \(($0.1 * 1000).rounded() / 1000)" }.joined(separator: ", ") + "}"
        }
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Median seconds of `repeats` timed runs of `body`, after warming up for at least 0.3 s
    /// (clocks ramp and caches fill; the first calls of a fresh process run slow).
    static func time(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        let warm = now()
        repeat { try body() } while now() - warm < 0.3
        var ts: [Double] = []
        for _ in 0..<repeats {
            let t0 = now()
            try body()
            ts.append(now() - t0)
        }
        return ts.sorted()[ts.count / 2]
    }

    /// Shapes of the train and decode measurements (the issues quote GLM-Base, batch 4 × 512).
    public struct Shapes: Sendable {
        public var model = "glm-base"
        public var batch = 4
        public var seq = 512
        public init() {}
    }

    public static func run(parts: Set<String>, repeats: Int, shapes: Shapes = Shapes(), log: (String) -> Void) throws -> Report {
        var r = Report()
        // The layer MFU needs the GEMM rate of this same run as its denominator.
        var sgemmRate = 0.0, bf16Rate = 0.0
        if parts.contains("gemm") || parts.contains("layer") || parts.contains("train") {
            log("GEMM (GFLOP/s, median of \(repeats))")
            for (m, n, k) in [(1024, 1024, 1024), (2048, 2304, 768), (2048, 768, 3072), (2048, 30592, 768)] {
                let g = sgemmGFLOPs(m, n, k, repeats)
                if m == 1024 { sgemmRate = g; r.set("sgemm_f32_1024_gflops", g) }
                log(String(format: "  sgemm f32      %5d x %5d x %5d  %8.1f", m, n, k, g))
                if parts.contains("gemm") || (parts.contains("train") && m == 1024) {
                    let b = bf16GFLOPs(m, n, k, repeats)
                    if m == 1024 { bf16Rate = b; r.set("matmul_bf16_1024_gflops", b) }
                    log(String(format: "  matmul bf16    %5d x %5d x %5d  %8.1f", m, n, k, b))
                }
            }
        }
        if parts.contains("layer") {
            let (sec, flops) = try layerForwardBackward(hidden: 512, heads: 8, seq: 256, batch: 8, repeats: repeats)
            let mfu = flops / sec / (sgemmRate * 1e9)
            r.set("layer_fwd_bwd_ms", sec * 1000)
            r.set("layer_fwd_bwd_mfu", mfu)
            log(String(format: "GLM layer h512 n8 s256 b8 fwd+bwd: %.1f ms, %.1f GFLOP/s, MFU %.3f (vs sgemm %.1f)",
                       sec * 1000, flops / sec / 1e9, mfu, sgemmRate))
        }
        guard let modelConfig = GLMConfig.presets[shapes.model] else {
            throw GLMError.invalidConfig("unknown model preset '\(shapes.model)'")
        }
        let tag = shapes.model.replacingOccurrences(of: "-", with: "_")
        if parts.contains("train") {
            for bf16 in [false, true] {
                let (tps, flops) = try trainStep(config: modelConfig, batch: shapes.batch, seq: shapes.seq, bf16: bf16,
                                                 repeats: max(2, min(repeats, 3)))
                r.set("train_\(tag)_\(bf16 ? "bf16" : "f32")_tokens_per_s", tps)
                // MFU against the GEMM rate of the same precision, measured in this run.
                let mfu = tps * flops / ((bf16 ? bf16Rate : sgemmRate) * 1e9)
                r.set("train_\(tag)_\(bf16 ? "bf16" : "f32")_mfu", mfu)
                log(String(format: "%@ train step (b%d s%d, %@): %.1f tokens/s, MFU %.3f", shapes.model, shapes.batch, shapes.seq,
                           bf16 ? "bf16" : "f32", tps, mfu))
            }
        }
        if parts.contains("decode") {
            for bf16 in [false, true] {
                let tps = try decode(config: modelConfig, context: 128, newTokens: 64, bf16: bf16)
                r.set("decode_\(tag)_\(bf16 ? "bf16" : "f32")_tokens_per_s", tps)
                log(String(format: "%@ decode (ctx 128, 64 new, b1, %@): %.1f tokens/s", shapes.model, bf16 ? "bf16" : "f32", tps))
            }
            let tps8 = try decode(config: modelConfig, context: 128, newTokens: 64, batch: 8, bf16: false)
            r.set("decode_\(tag)_f32_batch8_tokens_per_s", tps8)
            log(String(format: "%@ decode (ctx 128, 64 new, b8, f32): %.1f tokens/s", shapes.model, tps8))
        }
        if parts.contains("seq2seq") {
            let e = try seq2seqEval(config: modelConfig, source: 256, newTokens: 32, beams: 4, examples: 8, batch: 4,
                                    repeats: max(1, min(repeats, 2)))
            r.set("seq2seq_eval_\(tag)_examples_per_s", e)
            log(String(format: "%@ seq2seq eval (src 256, 32 new, beam 4, 8 examples 4 at a time, f32): %.3f examples/s", shapes.model, e))
        }
        if parts.contains("finetune") {
            guard let root = TrainConfig.bundledResourcesRoot() else {
                throw TrainError.config("the finetune measurement needs the bundled BERT vocabulary (Resources/tokenizers); run from the repository")
            }
            let tok = try GLMTokenizer(folder: root.appendingPathComponent("Resources/tokenizers/bert-base-uncased"))
            let eps = try FinetuneBenchmark.copa(config: modelConfig, tokenizer: tok, seq: min(256, modelConfig.maxSequenceLength),
                                                 repeats: max(2, min(repeats, 3)))
            r.set("finetune_copa_\(tag)_f32_examples_per_s", eps)
            log(String(format: "%@ COPA fine-tuning step (16 examples × 2 choices × 256, f32): %.2f examples/s", shapes.model, eps))
        }
        if parts.contains("data") {
            let c = try CollatorBenchmark.run(config: .glmBase, seqLength: 512, batchSize: 16, minBatches: 20, minSeconds: 1)
            r.set("collator_tokens_per_s", c.tokensPerSecond)
            log(String(format: "collator (glm-base mix, 16×512, one thread): %.3g tokens/s", c.tokensPerSecond))
        }
        return r
    }

    static func sgemmGFLOPs(_ m: Int, _ n: Int, _ k: Int, _ repeats: Int) -> Double {
        let p = GEMMProblem(m: m, n: n, k: k)
        return p.flops / time(repeats) { p.run() } / 1e9
    }

    static func bf16GFLOPs(_ m: Int, _ n: Int, _ k: Int, _ repeats: Int) -> Double {
        let p = GEMMProblem(m: m, n: n, k: k, dtype: .bf16)
        return p.flops / time(repeats) { p.run() } / 1e9
    }

    /// Model FLOPs of one forward pass per token: 24h² for the four projections and 4·s·h for
    /// the two attention products (the backward pass is counted as twice the forward).
    static func layerFlopsPerToken(hidden h: Int, seq s: Int) -> Double { Double(24 * h * h + 4 * s * h) }

    /// One GLM transformer layer (dropout on, separator mask) forward and backward.
    public static func layerForwardBackward(hidden: Int, heads: Int, seq: Int, batch: Int, repeats: Int) throws -> (seconds: Double, flops: Double) {
        let cfg = GLMConfig(numLayers: 1, hiddenSize: hidden, numAttentionHeads: heads, vocabSize: 128, maxSequenceLength: seq)
        let model = try GLMModel(config: cfg)
        model.training = true
        let x = Tensor(uninitialized: [batch, seq, hidden])
        x.fillNormal(std: 1, seed: 3, offset: 0)
        let (xv, _) = Autograd.leaf(x, name: "x")
        let seps = (0..<batch).map { Int32(seq / 2 + $0) }
        let gradOut = Tensor.full([batch, seq, hidden], 1e-3)
        let s = try time(repeats) {
            model.store.zeroGrad()
            let y = try model.block(0, xv, mask: .separators(seps))
            try y.backward(gradOut)
        }
        return (s, 3 * layerFlopsPerToken(hidden: hidden, seq: seq) * Double(batch * seq))
    }

    /// Full training steps (forward, loss, backward, clipping, AdamW); tokens/s = b·s / step time.
    public static func trainStep(config: GLMConfig, batch: Int, seq: Int, bf16: Bool, repeats: Int) throws -> (tokensPerSecond: Double, flopsPerToken: Double) {
        let model = try GLMModel(config: config)
        model.training = true
        model.bf16 = bf16
        let opt = AdamW(store: model.store, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1, decays: model.weightDecayFlags)
        let n = batch * seq
        var ids = [Int32](), pos = [Int32](), tgt = [Int32](), lm = [Float]()
        var g = GLMRandom(seed: 11)
        // The same batch shape as Tools/reference/bench_reference.py: Part A is the first half
        // (sep = seq/2), the loss covers the second half.
        let sep = seq / 2
        for _ in 0..<batch {
            ids += (0..<seq).map { _ in Int32(g.int(below: config.vocabSize - 100)) }
            pos += (0..<seq).map { Int32($0 < sep ? $0 : sep / 2) }
            pos += (0..<seq).map { Int32($0 < sep ? 0 : $0 - sep + 1) }
            tgt += (0..<seq).map { _ in Int32(g.int(below: config.vocabSize - 100)) }
            lm += (0..<seq).map { Float($0 < sep ? 0 : 1) }
        }
        let idT = try Tensor(int32: ids, shape: [batch, seq]), posT = try Tensor(int32: pos, shape: [batch, 2, seq])
        let tT = try Tensor(int32: tgt, shape: [batch, seq]), mT = try Tensor(lm, shape: [batch, seq])
        let seps = [Int32](repeating: Int32(sep), count: batch)
        let s = try time(repeats) {
            model.store.zeroGrad()
            let loss = try model.loss(inputIds: idT, positionIds: posT, mask: .separators(seps), targets: tT, lossMask: mT)
            try loss.backward()
            clipGradNorm(model.store, maxNorm: 1)
            opt.update(lr: 1e-4)
        }
        let h = config.hiddenSize
        // Model FLOPs the step needs: the blocks on every token, the vocabulary projection on the
        // rows with loss (half of them here; the loss ignores the others, so they are not computed).
        let perToken = 3 * (Double(config.numLayers) * layerFlopsPerToken(hidden: h, seq: seq) + 0.5 * 2 * Double(h * config.vocabSize))
        return (Double(n) / s, perToken)
    }

    /// Seq2seq evaluation decoding as ``Seq2SeqEvaluator`` runs it on the one decoder: `examples`
    /// random sources of `source` tokens (`[CLS] [MASK]` then text, the summary layout), beam search
    /// with `beams` beams, `batch` sources decoded together; eop is banned until `newTokens` tokens
    /// and eos is not an end token, so every example generates exactly `newTokens` tokens on every
    /// beam and the work does not depend on the (random) weights. Examples per second over the whole
    /// decode, context passes included (median of `repeats` after one warm-up example).
    public static func seq2seqEval(config: GLMConfig, source: Int, newTokens: Int, beams: Int, examples: Int, batch: Int,
                                   repeats: Int) throws -> Double {
        let model = try GLMModel(config: config)
        var g = GLMRandom(seed: 7)
        // Made-up ids (pad = eos = 0, [CLS] 1, [MASK] 2, sop 3, eop 4, text ≥ 10): any vocabulary will do.
        let text = min(config.vocabSize, 30000) - 10
        let contexts = (0..<examples).map { _ in [1, 2] + (2..<source).map { _ in 10 + g.int(below: text) } }
        var cfg = GenerationConfig()
        cfg.beamSearch = true
        cfg.numBeams = beams
        cfg.minNewTokens = newTokens
        cfg.maxNewTokens = newTokens
        cfg.stopAtEos = false
        let tokens = BlankFillingTokens(sop: 3, eop: 4, eos: 0, masks: [2])
        func run(_ n: Int) throws {
            let fills = try Seq2SeqEvaluator.decode(model: model, contexts: Array(contexts.prefix(n)), maskPositions: [Int](repeating: 1, count: n),
                                                    tokens: tokens, config: cfg, batchSize: batch)
            guard fills.allSatisfy({ $0.tokens.count == newTokens }) else {
                throw GLMError.invalidInput("seq2seq bench: a prediction did not get exactly \(newTokens) tokens")
            }
        }
        try run(1)
        var ts: [Double] = []
        for _ in 0..<repeats {
            let t0 = now()
            try run(examples)
            ts.append(now() - t0)
        }
        return Double(examples) / ts.sorted()[ts.count / 2]
    }

    /// Greedy decoding of `batch` sequences with the KV cache: a `context`-token bidirectional
    /// pass per sequence, then `newTokens` steps feeding one token to every sequence; tokens/s
    /// counts the new tokens of all sequences over the decode steps.
    public static func decode(config: GLMConfig, context: Int, newTokens: Int, batch: Int = 1, bf16: Bool) throws -> Double {
        let model = try GLMModel(config: config)
        model.bf16 = bf16
        var g = GLMRandom(seed: 5)
        let v = config.vocabSize
        let contexts = (0..<batch).map { _ in (0..<context).map { _ in Int32(g.int(below: 30000)) } }
        func once() throws -> Double {
            let cache = model.makeCache(rows: batch, capacity: context + newTokens)
            for (r, ctx) in contexts.enumerated() {
                _ = try model.hiddenStates(inputIds: Tensor(int32: ctx, shape: [1, context]),
                                           positionIds: Tensor(int32: (0..<context).map(Int32.init) + [Int32](repeating: 0, count: context), shape: [1, 2, context]),
                                           mask: .separators([Int32(context)]), cache: CacheSlots(cache, rows: [r]))
            }
            var toks = [Int32](repeating: 1, count: batch)
            let rows = Array(0..<batch)
            let t0 = now()
            for step in 0..<newTokens {
                let logits = try model(inputIds: Tensor(int32: toks, shape: [batch, 1]),
                                       positionIds: Tensor(int32: (0..<batch).flatMap { _ in [Int32(context - 1), Int32(step + 1)] }, shape: [batch, 2, 1]),
                                       mask: .separators([Int32](repeating: 0, count: batch)), cache: CacheSlots(cache, rows: rows),
                                       lastOnly: true).toArray()
                toks = (0..<batch).map { Int32(LogitsProcessing.argmax(Array(logits[($0 * v)..<(($0 + 1) * v)]))) }
            }
            return Double(newTokens * batch) / (now() - t0)
        }
        _ = try once()
        return try once()
    }
}
