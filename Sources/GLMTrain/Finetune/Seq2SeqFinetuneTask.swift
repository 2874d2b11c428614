import Foundation
import GLM
import GLMTasks
import GLMTensor
import GLMTokenizers

/// Seq2seq fine-tuning (docs/official-glm.md §6.2; official `tasks/seq2seq/finetune.py`): training
/// samples in the task's official layout (``Seq2SeqEncoder/training(_:)``: the source padded inside
/// Part A, the target and eop in Part B), the official loss with label smoothing
/// (``Seq2SeqLoss``); the dev set decoded and scored with ``Seq2SeqEvaluator`` (the code behind
/// `glm evaluate --task seq2seq`), ROUGE-1 first, as the official `metrics_func_provider` orders
/// its metrics, so the best checkpoint is the best ROUGE-1.
public final class Seq2SeqFinetuneTask: FinetuneTask {
    public let task: Seq2SeqTask
    public let settings: Seq2SeqSettings
    public let encoder: Seq2SeqEncoder
    let training: [Seq2SeqExample]
    let dev: [Seq2SeqExample]
    let evalBatchSize: Int

    public var name: String { task.rawValue }
    public var trainingExampleCount: Int { training.count }

    /// Reads the data (``Seq2SeqReader/read(_:task:)``: JSON lines or line-aligned files) and
    /// encodes every training example and dev input once, so a bad one fails before training.
    public init(task: Seq2SeqTask, settings: Seq2SeqSettings, tokenizer: GLMTokenizer, taskMask: Bool, train: URL, dev: URL?,
                evalBatchSize: Int) throws {
        self.task = task
        self.settings = settings
        encoder = try Seq2SeqEncoder(tokenizer: tokenizer, task: task, sourceLength: settings.sourceLength,
                                     targetLength: settings.targetLength, taskMask: taskMask)
        training = try Seq2SeqReader.read(train, task: task)
        for ex in training { _ = try encoder.training(ex) }
        self.dev = try dev.map { try Seq2SeqReader.read($0, task: task) } ?? []
        for ex in self.dev { _ = try encoder.evaluation(ex) }
        self.evalBatchSize = evalBatchSize
    }

    public func trainingBatch(_ indices: [Int]) throws -> TrainingBatch {
        try trainingBatch(indices, part: .whole)
    }

    public func trainingBatch(_ indices: [Int], part: BatchPart) throws -> TrainingBatch {
        try Self.part(of: indices.map { try encoder.training(training[$0]) }, padId: encoder.tokenizer.commands.pad, part: part,
                      labelSmoothing: Float(settings.labelSmoothing), label: name)
    }

    /// A seq2seq-layout micro-batch of `samples`, or this rank's part of it (``BatchPart``): its
    /// rows padded to the whole batch's width, its loss divided by the whole batch's loss-mask sum,
    /// its dropout window over the whole batch's rows. Shared by the seq2seq and blank tasks.
    static func part(of samples: [EncodedSample], padId: Int, part: BatchPart, labelSmoothing: Float, label: String) throws -> TrainingBatch {
        let width = samples.map(\.tokens.count).max() ?? 0
        guard !part.isWhole else {
            let batch = try EncodedBatch(samples, padId: padId)
            return TrainingBatch(tokens: batch.batchSize * batch.length, label: label) { model in
                try Seq2SeqLoss.loss(model: model, batch: batch, labelSmoothing: labelSmoothing)
            }
        }
        let mine = part.range(rows: samples.count)
        guard !mine.isEmpty else { return .empty(tokens: samples.count * width, label: label) }
        // Summed as the loss sums the mask (Double, row order): the same denominator bit for bit.
        let total = samples.reduce(0.0) { acc, s in s.lossMask.reduce(acc) { $0 + Double($1) } }
        let batch = try EncodedBatch(Array(samples[mine]), padId: padId, width: width)
        var b = TrainingBatch(tokens: samples.count * width, label: label, rows: part.window(rows: samples.count)) { model in
            try Seq2SeqLoss.loss(model: model, batch: batch, labelSmoothing: labelSmoothing, normalizer: total > 0 ? total : nil)
        }
        b.someRanksIdle = samples.count < part.count
        return b
    }

    public func evaluate(model: GLMModel) throws -> [(String, Double)] {
        guard !dev.isEmpty else { return [] }
        let s = try Seq2SeqEvaluator.evaluate(model: model, encoder: encoder, examples: dev, config: task.generationConfig(settings),
                                              batchSize: evalBatchSize).scores
        return [("eval_rouge1", s.rouge1), ("eval_rouge2", s.rouge2), ("eval_rougeLsum", s.rougeLsum), ("eval_rougeL", s.rougeL),
                ("eval_bleu", s.bleu)]
    }
}

extension Seq2SeqSettings {
    /// The task's official training settings as the fine-tuning loop's defaults: Adam β and ε,
    /// gradient clipping and dropout are `arguments.py`'s defaults (the seq2seq scripts do not set
    /// them); the loop's sequence length is the source length (Part A, the part the model's
    /// positions bound).
    public var trainingDefaults: TaskTrainingDefaults {
        TaskTrainingDefaults(epochs: epochs, batchSize: batchSize, learningRate: learningRate, warmup: warmup, weightDecay: weightDecay,
                             beta1: 0.9, beta2: 0.999, eps: 1e-8, clipGrad: 1, dropout: 0.1, seqLength: sourceLength,
                             evalBatchSize: evalBatchSize)
    }
}
