import Foundation
import GLM
import GLMTasks
import GLMTensor
import GLMTokenizers

/// Cloze fine-tuning (docs/official-glm.md §6.1): training examples encoded as the official
/// training path does (COPA mirrors, WSC positives, ReCoRD sampled negatives), batches of
/// choices through the official head and loss; dev scored with ``ClozeEvaluator`` (the same code
/// as `glm evaluate`).
public final class ClozeFinetuneTask: FinetuneTask {
    public let task: ClozeTask
    public let encoder: ClozeEncoder
    public let head: ClozeHead
    let training: [TaskExample]
    let dev: [TaskExample]
    let evalBatchSize: Int

    public var name: String { task.name }
    public var trainingExampleCount: Int { training.count }

    /// Reads and checks the data (every training example is encoded once here, so a bad one fails
    /// before training starts).
    public init(task: ClozeTask, tokenizer: GLMTokenizer, seqLength: Int, patternId: Int?, train: URL, dev: URL?,
                evalBatchSize: Int) throws {
        self.task = task
        encoder = try ClozeEncoder(task: task, tokenizer: tokenizer, seqLength: seqLength, patternId: patternId)
        head = ClozeHead(task.defaults)
        training = try task.read(train, split: .train)
        try task.requireTrainingLabels(training, file: train.path)
        for ex in training { _ = try encoder.encode(ex, training: true) }
        self.dev = try dev.map { try task.read($0, split: DataSplit.evaluation(forFile: $0.lastPathComponent)) } ?? []
        self.evalBatchSize = evalBatchSize
    }

    public func trainingBatch(_ indices: [Int]) throws -> TrainingBatch {
        let samples = try indices.map { try encoder.encode(training[$0], training: true) }
        let batch = try ClozeBatch(samples)
        let head = self.head
        return TrainingBatch(tokens: batch.sequenceCount * batch.width, label: task.name) { model in
            try head.forward(model: model, batch: batch).loss
        }
    }

    /// Data-parallel: every rank encodes the whole micro-batch (cheap) to know its width and
    /// sequence count, then batches its samples at that width; the loss divides by the whole
    /// batch's sample count and the dropout window counts sequences (choices) of the whole batch.
    public func trainingBatch(_ indices: [Int], part: BatchPart) throws -> TrainingBatch {
        guard !part.isWhole else { return try trainingBatch(indices) }
        let samples = try indices.map { try encoder.encode(training[$0], training: true) }
        let mine = part.range(rows: samples.count)
        let width = samples.flatMap { $0.choices.map(\.length) }.max() ?? 0
        let sequences = samples.reduce(0) { $0 + $1.choices.count }
        guard !mine.isEmpty else { return .empty(tokens: sequences * width, label: task.name) }
        let before = samples[..<mine.lowerBound].reduce(0) { $0 + $1.choices.count }
        let batch = try ClozeBatch(Array(samples[mine]), width: width)
        let head = self.head, total = samples.count
        var b = TrainingBatch(tokens: sequences * width, label: task.name,
                              rows: RowWindow(first: before, count: batch.sequenceCount, total: sequences)) { model in
            try head.forward(model: model, batch: batch, samples: total).loss
        }
        b.someRanksIdle = samples.count < part.count
        return b
    }

    public func evaluate(model: GLMModel) throws -> [(String, Double)] {
        guard !dev.isEmpty else { return [] }
        let r = try ClozeEvaluator.evaluate(model: model, encoder: encoder, examples: dev, head: head, batchSize: evalBatchSize)
        return r.metrics.map { ("eval_" + $0.name, $0.value) }
    }
}

extension ClozeTask {
    /// The task's official training settings as the fine-tuning loop's defaults.
    public var trainingDefaults: TaskTrainingDefaults {
        let d = defaults
        return TaskTrainingDefaults(epochs: d.epochs, batchSize: d.batchSize, learningRate: d.learningRate, warmup: d.warmup,
                                    weightDecay: d.weightDecay, beta1: d.adamBeta1, beta2: d.adamBeta2, eps: d.adamEps,
                                    clipGrad: Float(d.clipGradNorm), dropout: Float(d.dropout), seqLength: d.seqLength,
                                    evalBatchSize: d.evalBatchSize)
    }
}
