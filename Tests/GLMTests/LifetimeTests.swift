import Foundation
import XCTest
import GLM
import GLMNN
import GLMTensor

/// Models and fill engines are freed when their last user lets go: no reference cycle keeps
/// a model's weights alive (an AddressSanitizer run's leak report suggested one).
final class LifetimeTests: XCTestCase {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    func testModelsEnginesAndFillersAreFreed() throws {
        weak var model: GLMModel?
        weak var engine: FillEngine?
        weak var trained: GLMModel?
        try { () throws -> Void in
            let m = try GLMModel.load(Self.fixtures.appendingPathComponent("model-tiny"))
            model = m
            let tokens = BlankFillingTokens(sop: 3, eop: 4, eos: 0, masks: [2])
            var cfg = GenerationConfig(); cfg.greedy = true; cfg.maxNewTokens = 3
            let e = try FillEngine(model: m, tokens: tokens, rows: 2, capacity: 20)
            engine = e
            try e.submit(context: [1, 17, 2, 0], config: cfg, onFinish: { _ in })
            e.drain()
            let f = BlankFiller(model: m)
            _ = try f.fill(context: [1, 30, 2, 0], tokens: tokens, config: cfg)

            let t = try GLMModel(config: GLMConfig(numLayers: 1, hiddenSize: 16, numAttentionHeads: 2, vocabSize: 64, maxSequenceLength: 16))
            trained = t
            t.training = true
            let ids = try Tensor(int32: [1, 5, 6, 7], shape: [1, 4]), pos = try Tensor(int32: [0, 1, 2, 3, 0, 0, 0, 0], shape: [1, 2, 4])
            let loss = try t.loss(inputIds: ids, positionIds: pos, mask: .separators([4]), targets: ids,
                                  lossMask: try Tensor([1, 1, 1, 1], shape: [1, 4]))
            try loss.backward()
        }()
        XCTAssertNil(engine, "FillEngine leaked")
        XCTAssertNil(model, "GLMModel used for generation leaked")
        XCTAssertNil(trained, "GLMModel after a backward pass leaked")
    }
}
