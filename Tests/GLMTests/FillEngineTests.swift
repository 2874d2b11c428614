import Foundation
import XCTest
import GLM
import GLMNN
import GLMTensor
import GLMTokenizers

/// Batched decoding: sequences that share a cache and a forward pass get the bits they get alone,
/// and contexts that join, leave or are cancelled mid-way do not disturb the others.
final class FillEngineTests: XCTestCase {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    private func model(_ name: String) throws -> GLMModel { try GLMModel.load(Self.fixtures.appendingPathComponent(name)) }
    private let tokens = BlankFillingTokens(sop: 3, eop: 4, eos: 0, masks: [2])

    private func encode(_ m: GLMModel, _ ctx: [Int], into cache: KVCache, row: Int) throws {
        let n = ctx.count
        _ = try m.hiddenStates(inputIds: Tensor(int32: ctx.map(Int32.init), shape: [1, n]),
                               positionIds: Tensor(int32: (0..<n).map(Int32.init) + [Int32](repeating: 0, count: n), shape: [1, 2, n]),
                               mask: .separators([Int32(n)]), cache: CacheSlots(cache, rows: [row]))
    }

    private func step(_ m: GLMModel, _ toks: [Int], positions: [(Int32, Int32)], cache: KVCache, rows: [Int]) throws -> [[Float]] {
        let b = toks.count, v = m.config.vocabSize
        let out = try m(inputIds: Tensor(int32: toks.map(Int32.init), shape: [b, 1]),
                        positionIds: Tensor(int32: positions.flatMap { [$0.0, $0.1] }, shape: [b, 2, 1]),
                        mask: .separators([Int32](repeating: 0, count: b)), cache: CacheSlots(cache, rows: rows), lastOnly: true).toArray()
        return (0..<b).map { Array(out[($0 * v)..<(($0 + 1) * v)]) }
    }

    func testABatchedDecodingStepGivesEachSequenceTheBitsItGetsAlone() throws {
        for name in ["model-tiny", "model-erf"] {
            let m = try model(name)
            let contexts = [[1, 17, 2, 30, 0], [1, 2, 11, 12, 13, 14, 15, 2, 0], [1, 50, 2]]
            // Rows out of order and a gap, so nothing depends on rows being 0..<b.
            let shared = m.makeCache(rows: 5, capacity: 16)
            let rows = [4, 0, 2]
            for (c, r) in zip(contexts, rows) { try encode(m, c, into: shared, row: r) }
            let alone = try contexts.map { c -> KVCache in
                let cache = m.makeCache(rows: 1, capacity: 16)
                try encode(m, c, into: cache, row: 0)
                return cache
            }
            var toks = [3, 3, 3]
            for t in 0..<4 {
                let positions = contexts.map { (Int32($0.count - 2), Int32(t + 1)) }
                let together = try step(m, toks, positions: positions, cache: shared, rows: rows)
                for i in contexts.indices {
                    let single = try step(m, [toks[i]], positions: [positions[i]], cache: alone[i], rows: [0])
                    XCTAssertEqual(together[i], single[0], "\(name) sequence \(i) step \(t)")
                }
                toks = together.map { LogitsProcessing.argmax($0) }
            }
            XCTAssertEqual(rows.map { shared.lengths[$0] }, contexts.map { $0.count + 4 })
            XCTAssertEqual(shared.lengths[1], 0)
        }
    }

    private func alone(_ m: GLMModel, _ ctx: [Int], _ cfg: GenerationConfig) throws -> [BlankFill] {
        try BlankFiller(model: m).fill(context: ctx, tokens: tokens, config: cfg).fills
    }

    func testContextsJoiningTheRunningBatchGetTheirFillsAlone() throws {
        let m = try model("model-tiny")
        var greedy = GenerationConfig(); greedy.greedy = true; greedy.maxNewTokens = 5
        var sampled = GenerationConfig(); sampled.maxNewTokens = 4; sampled.seed = 7; sampled.temperature = 1.5; sampled.topK = 0
        var beams = GenerationConfig(); beams.numBeams = 3; beams.maxNewTokens = 4; beams.lengthPenalty = 0.7
        let jobs: [([Int], GenerationConfig)] = [
            ([1, 17, 2, 30, 2, 11, 12, 2, 0], greedy),
            ([1, 2, 40, 41, 0], sampled),
            ([1, 20, 21, 2, 22, 2, 0], beams),
            ([1, 60, 2, 0], sampled),
        ]
        let engine = try FillEngine(model: m, tokens: tokens, rows: 6, capacity: 40)
        var results = [Int: Result<FillResult, Error>]()
        var streamed = [Int: [Int]]()
        // The first two start together; the beam search joins after two steps (and waits for
        // rows), the last after three.
        for (i, (ctx, cfg)) in jobs.enumerated().prefix(2) {
            try engine.submit(context: ctx, config: cfg, onToken: { _, t in streamed[i, default: []].append(t) }, onFinish: { results[i] = $0 })
        }
        engine.step(); engine.step()
        try engine.submit(context: jobs[2].0, config: jobs[2].1, onFinish: { results[2] = $0 })
        engine.step()
        try engine.submit(context: jobs[3].0, config: jobs[3].1, onToken: { _, t in streamed[3, default: []].append(t) }, onFinish: { results[3] = $0 })
        engine.drain()
        XCTAssertEqual(engine.pending, 0)
        for (i, (ctx, cfg)) in jobs.enumerated() {
            let want = try alone(m, ctx, cfg)
            XCTAssertEqual(try results[i]!.get().fills, want, "job \(i)")
            if !cfg.usesBeamSearch { XCTAssertEqual(streamed[i] ?? [], want.flatMap(\.tokens), "job \(i) stream") }
        }
    }

    func testACancelledContextEndsAndFreesItsRows() throws {
        let m = try model("model-tiny")
        var cfg = GenerationConfig(); cfg.greedy = true; cfg.maxNewTokens = 6
        let engine = try FillEngine(model: m, tokens: tokens, rows: 1, capacity: 40)
        var a: Result<FillResult, Error>?, b: Result<FillResult, Error>?
        let ta = try engine.submit(context: [1, 17, 2, 2, 0], config: cfg, onFinish: { a = $0 })
        try engine.submit(context: [1, 30, 2, 0], config: cfg, onFinish: { b = $0 })
        engine.step()
        XCTAssertEqual(engine.queued, 1, "one row: the second context waits")
        engine.cancel(ta)
        engine.drain()
        XCTAssertThrowsError(try a!.get()) { XCTAssertTrue($0 is CancellationError) }
        XCTAssertEqual(try b!.get().fills, try alone(m, [1, 30, 2, 0], cfg))
    }

    func testContextsThatCanNeverFitAreRefusedAtOnce() throws {
        let m = try model("model-tiny")
        let engine = try FillEngine(model: m, tokens: tokens, rows: 3, capacity: 20)
        var beams = GenerationConfig(); beams.numBeams = 3
        XCTAssertThrowsError(try engine.submit(context: [1, 2, 0], config: beams, onFinish: { _ in })) {
            XCTAssertTrue("\($0)".contains("4 cache rows"), "\($0)")
        }
        var long = GenerationConfig(); long.maxNewTokens = 30
        XCTAssertThrowsError(try engine.submit(context: [1, 2, 0], config: long, onFinish: { _ in })) {
            XCTAssertTrue("\($0)".contains("20 tokens per sequence"), "\($0)")
        }
        XCTAssertThrowsError(try engine.submit(context: [1, 5, 0], config: GenerationConfig(), onFinish: { _ in }))
        XCTAssertEqual(engine.pending, 0)
    }

    func testTextLevelFillingSplicesAndRendersLikeTheIdLevelAPI() throws {
        // The counting model with a BERT-style vocabulary ([PAD] [CLS] [MASK] [UNK] [SEP] w5 … w99):
        // sop = 100, eop = 101 follow the text vocabulary as the BERT family's command tokens do.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glm-text-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let vocab = ["[PAD]", "[CLS]", "[MASK]", "[UNK]", "[SEP]"] + (5...99).map { "w\($0)" }
        try (vocab.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        let tokenizer = try GLMTokenizer(folder: dir)
        XCTAssertEqual(tokenizer.files.map(\.lastPathComponent), ["vocab.txt"])
        let m = try model("model-counting")
        // The model was trained with other command ids, so its fills here are arbitrary; a minimum
        // length makes them non-empty.
        var cfg = GenerationConfig(); cfg.greedy = true; cfg.maxNewTokens = 5; cfg.minNewTokens = 2
        let filler = BlankFiller(model: m)
        let prompts = ["w40 w41 [MASK] w44 w45 [MASK] w48 w49", "w7 w8"]
        let texts = try filler.fill(texts: prompts, tokenizer: tokenizer, config: cfg)
        for (p, t) in zip(prompts, texts) {
            let ctx = try BlankFiller.context(for: p, tokenizer: tokenizer)
            let ids = try filler.fill(context: ctx, tokens: BlankFillingTokens(tokenizer: tokenizer), config: cfg)
            XCTAssertEqual(t.context, ids.context)
            XCTAssertEqual(t.fills, ids.fills)
            var spliced = BlankFiller.splice(context: ids.context, fills: ids.fills)
            spliced.removeFirst()
            if spliced.last == tokenizer.commands.eos { spliced.removeLast() }
            XCTAssertEqual(t.text, tokenizer.decode(spliced))
            XCTAssertEqual(t.fillTexts, ids.fills.map { tokenizer.decode($0.tokens) })
        }
        let f = texts[0].fillTexts
        XCTAssertEqual(f.count, 2)
        XCTAssertTrue(f.allSatisfy { !$0.isEmpty })
        XCTAssertEqual(texts[0].text, "w40 w41 \(f[0]) w44 w45 \(f[1]) w48 w49")
        XCTAssertEqual(texts[0].marked(tokenizer: tokenizer) { "[" + $0 + "]" }, "w40 w41 [\(f[0])] w44 w45 [\(f[1])] w48 w49")
        XCTAssertEqual(texts[1].fills.count, 1, "a prompt without a blank gets one at the end")
        XCTAssertThrowsError(try filler.fill(texts: ["w5 [MASK]", "w5 [mask]"], tokenizer: tokenizer, config: cfg)) {
            XCTAssertTrue("\($0)".contains("prompt 2"), "\($0)")
        }
    }
}

/// The parameter table is the one place GLM's per-parameter rules live.
final class GLMParameterTableTests: XCTestCase {
    let config = GLMConfig(numLayers: 2, hiddenSize: 32, numAttentionHeads: 4, vocabSize: 128, maxSequenceLength: 32)

    func testTheTableLaysOutTheStoreWithTheOfficialRules() throws {
        let table = GLMParameters.table(config)
        let m = try GLMModel(config: config)
        XCTAssertEqual(m.store.parameters.map(\.name), table.map(\.name))
        XCTAssertEqual(m.store.parameters.map(\.shape), table.map(\.shape))
        XCTAssertEqual(table.count, 3 + 2 * 12 + 2)
        // No weight decay on biases or LayerNorm parameters (official glm_get_params_for_weight_decay_optimization).
        for p in table {
            XCTAssertEqual(p.weightDecay, !(p.name.hasSuffix(".bias") || p.name.contains("layernorm")), p.name)
        }
        XCTAssertEqual(GLMParameters.split(for: "transformer.layers.17.attention.query_key_value.weight"), .interleavedRows(3))
        XCTAssertEqual(GLMParameters.split(for: "transformer.layers.3.mlp.dense_4h_to_h.weight"), .columns)
        XCTAssertEqual(GLMParameters.split(for: "transformer.layers.3.mlp.dense_4h_to_h.bias"), .replicated)
        XCTAssertEqual(GLMParameters.split(for: "word_embeddings.weight"), .rows)
        XCTAssertEqual(GLMParameters.split(for: "transformer.position_embeddings.weight"), .replicated)
        XCTAssertEqual(GLMParameters.split(for: "something.else"), .replicated)
        // Initialisation: LayerNorm 1/0, biases 0, scaled projections smaller.
        let ln = m.store["transformer.layers.1.post_attention_layernorm.weight"]!.value.toArray()
        XCTAssertTrue(ln.allSatisfy { $0 == 1 })
        XCTAssertTrue(m.store["transformer.layers.0.attention.dense.bias"]!.value.toArray().allSatisfy { $0 == 0 })
        func std(_ n: String) -> Double {
            let v = m.store[n]!.value.toArray().map(Double.init)
            return (v.map { $0 * $0 }.reduce(0, +) / Double(v.count)).squareRoot()
        }
        XCTAssertEqual(std("transformer.layers.0.mlp.dense_h_to_4h.weight"), 0.02, accuracy: 0.002)
        XCTAssertEqual(std("transformer.layers.0.mlp.dense_4h_to_h.weight"), 0.01, accuracy: 0.001)
    }

    func testCheckpointPositionTablesWithFewerRowsKeepTheInitialRowsBeyond() throws {
        let fresh = try GLMModel(config: config, seed: 1234)
        var sd = fresh.stateDict()
        let key = "transformer.block_position_embeddings.weight"
        let h = config.hiddenSize
        // A checkpoint trained with max_sequence_length 20: 21 rows of different values.
        sd[key] = TensorData(dtype: .f32, shape: [21, h], floats: (0..<(21 * h)).map { Float($0) })
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glm-pos-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try config.jsonData().write(to: dir.appendingPathComponent("config.json"))
        try SafeTensors.write(sd, to: dir.appendingPathComponent("model.safetensors"))
        let loaded = try GLMModel.load(dir)
        let got = loaded.store[key]!.value.toArray(), initial = fresh.store[key]!.value.toArray()
        XCTAssertEqual(Array(got[..<(21 * h)]), (0..<(21 * h)).map { Float($0) })
        XCTAssertEqual(Array(got[(21 * h)...]), Array(initial[(21 * h)...]), "rows past the checkpoint's are the initial ones")
        XCTAssertEqual(loaded.store["word_embeddings.weight"]!.value.toArray(), fresh.store["word_embeddings.weight"]!.value.toArray())
    }
}
