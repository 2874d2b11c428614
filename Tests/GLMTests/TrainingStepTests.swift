import Foundation
import XCTest
import GLM
import GLMNN
import GLMTensor

/// Three optimizer steps (loss, backward, global-norm clipping, decoupled AdamW with GLM's
/// no-decay rule) against the PyTorch reference's float64 run on the same batch.
final class TrainingStepTests: XCTestCase {
    func testClippedAdamWStepsMatchTheReference() throws {
        let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("train-adamw-tiny.json"))) as! [String: Any]
        let hp = spec["hyperparameters"] as! [String: Any]
        let betas = hp["betas"] as! [Double]
        let model = try GLMModel.load(fixtures.appendingPathComponent(spec["model"] as! String))
        let batch = try ParityCase(contentsOf: fixtures.appendingPathComponent(spec["batch"] as! String))
        let opt = AdamW(store: model.store, beta1: betas[0], beta2: betas[1], eps: hp["eps"] as! Double,
                        weightDecay: hp["weight_decay"] as! Double, decays: model.weightDecayFlags)
        let ids = try batch.inputTensor(), pos = try batch.positionTensor()
        let targets = try Tensor(int32: batch.targets!.flatMap { $0 }, shape: [batch.batch, batch.length])
        let mask = try Tensor(batch.lossMask!.flatMap { $0 }, shape: [batch.batch, batch.length])
        let losses = spec["losses"] as! [Double], norms = spec["grad_norms_before_clip"] as! [Double]
        for step in 0..<(hp["steps"] as! Int) {
            model.store.zeroGrad()
            let loss = try model.loss(inputIds: ids, positionIds: pos, mask: batch.mask, targets: targets, lossMask: mask)
            try loss.backward()
            let norm = clipGradNorm(model.store, maxNorm: Float(hp["clip_grad_norm"] as! Double))
            XCTAssertEqual(Double(loss.item), losses[step], accuracy: 1e-5 * losses[step], "loss at step \(step)")
            XCTAssertEqual(Double(norm), norms[step], accuracy: 1e-4 * norms[step], "grad norm at step \(step)")
            opt.update(lr: hp["lr"] as! Double)
        }
        let want = try SafeTensors.read(fixtures.appendingPathComponent("train-adamw-tiny.expected.safetensors"))
        for p in model.store.parameters {
            let w = want["param." + p.name]!.floats(), g = p.value.toArray()
            let err = zip(w, g).map { abs($0 - $1) }.max()!
            // Three lr-1e-3 steps move weights by ~3e-3; agree to a small fraction of that.
            XCTAssertLessThan(err, 2e-5, p.name)
        }
    }
}
