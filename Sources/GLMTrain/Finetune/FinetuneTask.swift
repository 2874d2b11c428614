import Foundation
import GLM
import GLMData
import GLMTensor

/// A task the fine-tuning loop can train and score: cloze (``ClozeFinetuneTask``), seq2seq, ….
/// The loop, the optimizer, the schedule, checkpoints and metrics are the ones pretraining uses;
/// a task only says what a micro-batch's loss is and how the dev set scores.
public protocol FinetuneTask: AnyObject {
    /// The name in logs and metrics.
    var name: String { get }
    /// Training examples in one epoch.
    var trainingExampleCount: Int { get }
    /// The micro-batch of training examples `indices` (into the training set), with its loss.
    func trainingBatch(_ indices: [Int]) throws -> TrainingBatch
    /// This rank's part of the global micro-batch `indices` under data parallelism, following
    /// ``BatchPart``'s convention (its samples padded as the whole batch's, its loss divided by the
    /// whole batch's count, its rows' dropout window). The default serves ``BatchPart/whole`` only.
    func trainingBatch(_ indices: [Int], part: BatchPart) throws -> TrainingBatch
    /// Dev metrics, the first of which chooses the best checkpoint (higher is better), with
    /// `eval_` keys for the metrics log (e.g. `[("eval_accuracy", 81.2)]`); empty without dev data.
    func evaluate(model: GLMModel) throws -> [(String, Double)]
}

extension FinetuneTask {
    public func trainingBatch(_ indices: [Int], part: BatchPart) throws -> TrainingBatch {
        guard part.isWhole else { throw TrainError.config("task \(name) cannot be trained data-parallel yet (run it in one process)") }
        return try trainingBatch(indices)
    }
}

/// The epochs of a fine-tuning run as a ``BatchSource``: epoch e visits the training examples in
/// a permutation seeded by (seed, e), `batchSize` at a time (the last micro-batch of an epoch may
/// be smaller, as the official `drop_last=False` loader), so micro-batch k is a pure function of
/// (seed, k) and a resumed run sees exactly the batches it would have. Data-parallel: every rank
/// draws the same global micro-batch and trains its ``BatchPart`` of it.
public final class EpochBatches: BatchSource {
    public let task: FinetuneTask
    public let batchSize: Int
    public let seed: UInt64
    public let part: BatchPart
    /// Micro-batches per epoch: ⌈examples / batchSize⌉.
    public let perEpoch: Int
    private var cache: (epoch: Int, order: [Int])?

    public init(task: FinetuneTask, batchSize: Int, seed: UInt64, part: BatchPart = .whole) {
        self.task = task
        self.batchSize = batchSize
        self.seed = seed
        self.part = part
        perEpoch = (task.trainingExampleCount + batchSize - 1) / batchSize
    }

    /// The order of the training examples in `epoch`.
    public func order(epoch: Int) -> [Int] {
        if let c = cache, c.epoch == epoch { return c.order }
        var rng = GLMRandom(seed: seed ^ (0xF1AE_7E5E &* UInt64(epoch + 1)))
        var order = Array(0..<task.trainingExampleCount)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
        cache = (epoch, order)
        return order
    }

    public func batch(_ index: Int) throws -> TrainingBatch {
        let epoch = index / perEpoch, j = index % perEpoch
        let order = order(epoch: epoch)
        return try task.trainingBatch(Array(order[(j * batchSize)..<min((j + 1) * batchSize, order.count)]), part: part)
    }
}

/// Scores the dev set at the end of every `every`-th epoch (and after the last step), records the
/// metrics, and keeps the model of the best first metric as the run's result folder
/// (`<run>/model`, with `best.json` saying the epoch, step and scores), as the official
/// `finetune_glm.py:_train` keeps its "best" checkpoint.
public final class BestModelObserver: TrainingObserver {
    let task: FinetuneTask
    let perEpoch: Int
    let every: Int
    let runDir: URL
    let tokenizerFiles: [URL]
    let metrics: MetricsObserver?
    let say: (String) -> Void
    /// The best first-metric value so far, its name, and where it was reached.
    public private(set) var best: (metric: String, value: Double, step: Int, epoch: Int)?
    public private(set) var last: [(String, Double)] = []

    public init(task: FinetuneTask, microBatchesPerEpoch: Int, everyEpochs: Int, runDir: URL, tokenizerFiles: [URL],
                metrics: MetricsObserver?, say: @escaping (String) -> Void) {
        self.task = task; perEpoch = microBatchesPerEpoch; every = everyEpochs; self.runDir = runDir
        self.tokenizerFiles = tokenizerFiles; self.metrics = metrics; self.say = say
        // A resumed run continues against the best it had already kept.
        if let data = try? Data(contentsOf: runDir.appendingPathComponent("best.json")),
           let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let v = o["value"] as? Double, let s = o["step"] as? Int, let e = o["epoch"] as? Int {
            best = ((o["metric"] as? String) ?? "score", v, s, e)
        }
    }

    /// Whether this observer scores the dev set after step `e` (of `accumulation` micro-batches):
    /// at the end of every `every`-th epoch and after the last step.
    public func evaluates(after e: StepEvent, accumulation accum: Int) -> Bool {
        let before = (e.state.dataCursor - accum) / perEpoch, after = e.state.dataCursor / perEpoch
        return (after > before && after % every == 0) || e.isLast
    }

    public func stepEnded(_ e: StepEvent, loop: TrainingLoop) throws {
        let accum = loop.options.gradientAccumulation
        let after = e.state.dataCursor / perEpoch
        guard evaluates(after: e, accumulation: accum) else { return }
        let values = try task.evaluate(model: loop.model)
        last = values
        guard let first = values.first else { return }
        metrics?.record(step: e.state.step, values + [("epoch", Double(after))])
        let line = values.map { String(format: "%@ %.2f", $0.0.replacingOccurrences(of: "eval_", with: ""), $0.1) }.joined(separator: ", ")
        if best == nil || first.1 > best!.value {
            best = (first.0, first.1, e.state.step, after)
            try loop.model.save(to: runDir.appendingPathComponent("model"), tokenizerFiles: tokenizerFiles)
            let record: [String: Any] = ["value": first.1, "metric": first.0, "step": e.state.step, "epoch": after,
                                         "scores": Dictionary(values, uniquingKeysWith: { a, _ in a })]
            try AtomicFolder.writeFile(JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]),
                                       to: runDir.appendingPathComponent("best.json"))
            say("epoch \(after), step \(e.state.step): dev \(line)  (best so far: kept in \(runDir.lastPathComponent)/model)")
        } else {
            say("epoch \(after), step \(e.state.step): dev \(line)  (best: epoch \(best!.epoch), \(String(format: "%.2f", best!.value)))")
        }
    }
}
