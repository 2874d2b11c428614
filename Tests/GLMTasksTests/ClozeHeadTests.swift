import Foundation
import Testing
import GLM
import GLMNN
import GLMTensor
import GLMTasks

/// The cloze heads and losses against the PyTorch reference (Tools/reference/cloze_ref.py, float64,
/// written from docs/official-glm.md §6.1 and the official downstream.py): loss, the score of every
/// choice, and the gradient of every parameter, each within 1e-4 relative.
@Suite struct ClozeHeadTests {
    static let folder = Fixtures.folder.appendingPathComponent("heads")

    struct Case {
        let samples: [ClozeSample]
        let head: ClozeHead
        let expected: [String: TensorData]
    }

    static func load(_ name: String) throws -> Case {
        let doc = try TaskFile.json(folder.appendingPathComponent("case-\(name).json"))
        let samples = try doc.at("samples").array().map { try ClozeSample(json: $0) }
        let loss = ClozeLoss(rawValue: try doc.at("loss").string())!
        let head = ClozeHead(loss: loss, lengthPenalty: try doc.at("length_penalty").number())
        let expected = try SafeTensors.read(folder.appendingPathComponent("case-\(name).expected.safetensors"))
        return Case(samples: samples, head: head, expected: expected)
    }

    static func maxAbs(_ a: [Float]) -> Float { a.map(abs).max() ?? 0 }
    static func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    @Test(arguments: ["single", "multi", "wsc", "penalty"])
    func lossScoresAndEveryGradientMatchTheReference(name: String) throws {
        let c = try Self.load(name)
        let model = try GLMModel.load(Self.folder.appendingPathComponent("model-tiny"))
        model.training = false
        model.store.zeroGrad()
        let batch = try ClozeBatch(c.samples)
        let (loss, scores) = try c.head.forward(model: model, batch: batch)
        try loss.backward()
        let wantLoss = c.expected["loss"]!.floats()[0]
        #expect(abs(loss.item - wantLoss) <= 1e-4 * abs(wantLoss), "loss \(loss.item) vs \(wantLoss)")
        let wantScores = c.expected["scores"]!
        #expect(scores.shape == wantScores.shape)
        let s = scores.toArray(), w = wantScores.floats()
        #expect(Self.maxDiff(s, w) <= 1e-4 * Self.maxAbs(w), "scores \(s) vs \(w)")
        var checked = 0
        for p in model.store.parameters {
            let want = c.expected["grad." + p.name]!.floats()
            let got = p.grad.toArray()
            #expect(Self.maxDiff(got, want) <= 1e-4 * max(Self.maxAbs(want), 1e-12), "\(name): grad \(p.name)")
            checked += 1
        }
        #expect(checked == GLMParameters.table(model.config).count)
    }

    /// Scores do not depend on how examples are batched or padded: the trimmed batch of all samples,
    /// each sample alone, and the full padded width (no trimming) agree.
    @Test func batchingDoesNotChangeScores() throws {
        let c = try Self.load("multi")
        let model = try GLMModel.load(Self.folder.appendingPathComponent("model-tiny"))
        let together = try c.head.choiceScores(model: model, batch: ClozeBatch(c.samples))
        for (i, s) in c.samples.enumerated() {
            let alone = try c.head.choiceScores(model: model, batch: ClozeBatch([s]))[0]
            #expect(Self.maxDiff(alone, together[i]) <= 1e-5 * Self.maxAbs(alone))
        }
        #expect(together.map(\.count) == c.samples.map(\.choices.count))
    }

    /// The multi-token loss falls when the model is trained on it (the head's gradient points downhill).
    @Test func aFewStepsLowerTheLoss() throws {
        let c = try Self.load("wsc")
        let model = try GLMModel.load(Self.folder.appendingPathComponent("model-tiny"))
        let opt = AdamW(store: model.store, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
        let batch = try ClozeBatch(c.samples)
        var losses: [Float] = []
        for _ in 0..<5 {
            model.store.zeroGrad()
            let (loss, _) = try c.head.forward(model: model, batch: batch)
            try loss.backward()
            losses.append(loss.item)
            opt.update(lr: 1e-3)
        }
        #expect(losses.last! < losses.first! * 0.9, "\(losses)")
    }
}
