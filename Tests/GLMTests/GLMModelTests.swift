import Foundation
import XCTest
import GLM
import GLMNN
import GLMTensor

/// The Swift model against the PyTorch reference's fixtures (Tools/reference/make_fixtures.py).
final class GLMModelTests: XCTestCase {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    private func model(_ name: String) throws -> GLMModel {
        try GLMModel.load(Self.fixtures.appendingPathComponent(name))
    }

    private func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent(name))) as! [String: Any]
    }

    private func maxAbs(_ a: [Float]) -> Float { a.map(abs).max() ?? 0 }
    private func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    /// Logits within 1e-4 of max |logit|, loss within 1e-5 relative, every gradient within 1e-3
    /// relative (max abs error over max abs value).
    func testParityCasesLogitsLossAndGradients() throws {
        // Freed buffers turn to NaN, so an op reading memory it did not keep alive fails loudly.
        BufferPool.shared.poison = true
        defer { BufferPool.shared.poison = false }
        for name in ["blank-tiny", "blank-erf", "causal-tiny", "causal-erf", "bidirectional-tiny", "explicit-tiny"] {
            let obj = try json("case-\(name).json")
            let m = try model(obj["model"] as! String)
            let c = try ParityCase(json: obj, source: name)
            let got = try m.parity(c, grads: true)
            let want = try SafeTensors.read(Self.fixtures.appendingPathComponent("case-\(name).expected.safetensors"))
            let wl = want["logits"]!.floats(), gl = got["logits"]!.floats()
            XCTAssertEqual(got["logits"]!.shape, want["logits"]!.shape, name)
            XCTAssertLessThanOrEqual(maxDiff(gl, wl), 1e-4 * maxAbs(wl), "\(name) logits")
            let wLoss = want["loss"]!.floats()[0], gLoss = got["loss"]!.floats()[0]
            XCTAssertEqual(gLoss, wLoss, accuracy: 1e-5 * abs(wLoss), "\(name) loss")
            for p in m.store.parameters {
                let w = want["grad." + p.name]!.floats(), g = got["grad." + p.name]!.floats()
                XCTAssertLessThanOrEqual(maxDiff(g, w), 1e-3 * max(maxAbs(w), 1e-12), "\(name) grad \(p.name)")
            }
        }
    }

    func testCachedDecodingEqualsReferenceAndRecompute() throws {
        let obj = try json("case-incremental-tiny.json")
        let m = try model(obj["model"] as! String)
        let want = try SafeTensors.read(Self.fixtures.appendingPathComponent("case-incremental-tiny.expected.safetensors"))
        let ctx = try ParityCase(json: obj["context"]!, source: "context")
        let steps = try (obj["steps"] as! [Any]).map { try ParityCase(json: $0, source: "step") }
        let cache = m.makeCache(rows: ctx.batch, capacity: ctx.length + steps.count)
        let slots = CacheSlots(cache, rows: Array(0..<ctx.batch))
        guard case .separators = ctx.mask else { return XCTFail("context uses a sep mask") }
        let cl = try m(inputIds: ctx.inputTensor(), positionIds: ctx.positionTensor(), mask: ctx.mask, cache: slots).toArray()
        let wcl = want["context.logits"]!.floats()
        XCTAssertLessThanOrEqual(maxDiff(cl, wcl), 1e-4 * maxAbs(wcl))
        // Recompute the whole sequence without a cache (explicit mask) for the cache == recompute check.
        let re = try ParityCase(json: obj["recompute"]!, source: "recompute")
        let full = try Autograd.withNoGrad { try m(inputIds: re.inputTensor(), positionIds: re.positionTensor(), mask: re.mask) }.toArray()
        let v = m.config.vocabSize, total = re.length
        for (t, st) in steps.enumerated() {
            let got = try m(inputIds: st.inputTensor(), positionIds: st.positionTensor(), mask: .separators([0, 0]), cache: slots).toArray()
            let ref = want["step.\(t).logits"]!.floats()
            XCTAssertLessThanOrEqual(maxDiff(got, ref), 1e-4 * maxAbs(ref), "step \(t)")
            for b in 0..<2 {
                let row = Array(full[((b * total + ctx.length + t) * v)..<((b * total + ctx.length + t + 1) * v)])
                XCTAssertLessThanOrEqual(maxDiff(Array(got[(b * v)..<((b + 1) * v)]), row), 1e-4 * maxAbs(row), "recompute step \(t)")
            }
        }
        XCTAssertEqual(cache.lengths, [total, total])
    }

    func testGreedyBlankFillingMatchesReference() throws {
        let obj = try json("case-greedy-counting.json")
        let m = try model(obj["model"] as! String)
        var cfg = GenerationConfig()
        cfg.greedy = true
        cfg.maxNewTokens = obj["max_tokens"] as! Int
        let tokens = BlankFillingTokens(sop: obj["sop_id"] as! Int, eop: obj["eop_id"] as! Int, eos: 0, masks: [obj["mask_id"] as! Int])
        let (_, fills) = try BlankFiller(model: m).fill(context: obj["context"] as! [Int], tokens: tokens, config: cfg)
        XCTAssertEqual(fills.map(\.tokens), obj["fills"] as! [[Int]])
        XCTAssertEqual(fills.map { $0.stop == "eop" ? "eop" : "max_tokens" }, obj["stops"] as! [String])
    }

    func testSameWeightsFromEveryCheckpointFormatGiveTheSameLogits() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("GLMNNTests/Fixtures")
        let config = try GLMConfig.load(dir.appendingPathComponent("config.json"))
        let ids = try Tensor(int32: [1, 5, 9, 2, 30, 7], shape: [1, 6])
        let pos = try Tensor(int32: [0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0], shape: [1, 2, 6])
        func logits(_ path: String) throws -> [Float] {
            let m = try GLMModel.load(dir.appendingPathComponent(path), config: config)
            return try Autograd.withNoGrad { try m(inputIds: ids, positionIds: pos, mask: .separators([4])) }.toArray()
        }
        let ref = try logits("model.safetensors")
        for path in ["pytorch_model.bin", "hf-prefixed/pytorch_model.bin", "official", "official-mp2"] {
            XCTAssertLessThanOrEqual(maxDiff(try logits(path), ref), 1e-5 * maxAbs(ref), path)
        }
        for path in ["fp16/pytorch_model.bin", "bf16/model.safetensors"] {
            // Half-precision weights: within their rounding (bf16 keeps 8 bits, f16 11).
            XCTAssertLessThanOrEqual(maxDiff(try logits(path), ref), 0.05 * maxAbs(ref), path)
        }
    }

    func testBadInputsAreClearErrors() throws {
        let m = try model("model-tiny")
        let pos = try Tensor(int32: [0, 1, 0, 0], shape: [1, 2, 2])
        XCTAssertThrowsError(try m(inputIds: Tensor(int32: [1, 128], shape: [1, 2]), positionIds: pos, mask: .separators([1]))) {
            XCTAssertTrue("\($0)".contains("outside the vocabulary"), "\($0)")
        }
        XCTAssertThrowsError(try m(inputIds: Tensor(int32: [1, 2], shape: [1, 2]),
                                   positionIds: Tensor(int32: [0, 33, 0, 0], shape: [1, 2, 2]), mask: .separators([1]))) {
            XCTAssertTrue("\($0)".contains("max_sequence_length"), "\($0)")
        }
        XCTAssertThrowsError(try m(inputIds: Tensor(int32: [1, 2], shape: [1, 2]), positionIds: pos, mask: .separators([3])))
        var bad = m.config
        bad.numAttentionHeads = 5
        XCTAssertThrowsError(try GLMModel(config: bad)) { XCTAssertTrue("\($0)".contains("not divisible"), "\($0)") }
        let other = GLMConfig(numLayers: 1, hiddenSize: 32, numAttentionHeads: 4, vocabSize: 128, maxSequenceLength: 32)
        XCTAssertThrowsError(try GLMModel.load(Self.fixtures.appendingPathComponent("model-tiny/model.safetensors"), config: other)) {
            XCTAssertTrue("\($0)".contains("unexpected keys"), "\($0)")
        }
    }

    func testSaveWritesAFolderThatLoadsBack() throws {
        let m = try model("model-erf")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glm-save-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try m.save(to: dir.appendingPathComponent("out"))
        try m.save(to: dir.appendingPathComponent("out"))   // replacing an existing folder
        let back = try GLMModel.load(dir.appendingPathComponent("out"))
        XCTAssertEqual(back.config, m.config)
        XCTAssertEqual(back.store.values.toArray(), m.store.values.toArray())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out"])
    }
}
