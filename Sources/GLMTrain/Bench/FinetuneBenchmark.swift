import Foundation
import GLM
import GLMNN
import GLMTasks
import GLMTensor
import GLMTokenizers

/// COPA-shaped fine-tuning steps (issue shape: 2 choices, sequence 256, batch 16) on a random model
/// of a preset's shape: the COPA training encoding of synthetic examples whose premise fills the
/// sequence, the official multi-token cloze head and loss, backward, clipping and AdamW — exactly
/// what `glm finetune --task copa` runs per step.
public enum FinetuneBenchmark {
    /// Examples per second of full training steps (median step time).
    public static func copa(config: GLMConfig, tokenizer: GLMTokenizer, batch: Int = 16, seq: Int = 256,
                            repeats: Int) throws -> Double {
        let model = try GLMModel(config: config)
        model.training = true
        let task = ClozeTask(superGLUE: .copa)
        let encoder = try ClozeEncoder(task: task, tokenizer: tokenizer, seqLength: seq)
        // A premise long enough that every choice's sequence is cut to exactly `seq` tokens.
        let words = ["the", "old", "man", "walked", "slowly", "along", "the", "river", "in", "the", "early", "morning", "light"]
        let premise = (0..<(seq / 2)).map { words[$0 % words.count] }.joined(separator: " ")
        let examples = (0..<batch).map { i -> TaskExample in
            var meta = ExampleMeta()
            meta.choice1 = "the sun rose over the quiet hills"
            meta.choice2 = "the boat drifted away from the shore"
            meta.question = i % 2 == 0 ? "cause" : "effect"
            return TaskExample(guid: "bench-\(i)", textA: premise + ".", label: i % 2, meta: meta, file: "bench", line: i + 1)
        }
        let cloze = try ClozeBatch(examples.map { try encoder.encode($0, training: true) })
        let head = ClozeHead(task.defaults)
        let opt = AdamW(store: model.store, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decays: model.weightDecayFlags)
        let s = try Benchmarks.time(repeats) {
            model.store.zeroGrad()
            let loss = try head.forward(model: model, batch: cloze).loss
            try loss.backward()
            clipGradNorm(model.store, maxNorm: 1)
            opt.update(lr: 1e-5)
        }
        return Double(batch) / s
    }
}
