import Foundation
import GLM
import GLMNN

/// Every knob of a fine-tuning run. Saved resolved as `config.json` in the run folder, so
/// `--resume` needs only the folder. Unset optional fields take the task's official defaults
/// (``FinetuneConfig/resolved(defaults:)``).
public struct FinetuneConfig: Codable, Sendable, Equatable {
    /// A task name (`boolq cb copa multirc record rte wic wsc`, `bigbench`, `seq2seq`, …) or a task file.
    public var task: String = ""
    /// The pretrained model folder to start from.
    public var model: String = ""
    /// Training and dev data files (e.g. the SuperGLUE release's `train.jsonl` and `val.jsonl`).
    public var trainData: String = ""
    public var devData: String?
    /// Tokenizer folder (default: the model folder).
    public var tokenizer: String?
    public var output: String = "runs/finetune"
    public var epochs: Int?
    /// Examples per micro-batch (the global batch when data-parallel).
    public var batchSize: Int?
    /// Micro-batches per optimizer step.
    public var gradientAccumulation: Int = 1
    public var learningRate: Double?
    /// Warmup as a fraction of all optimizer steps, then linear decay to `minLRRatio · lr`.
    public var warmup: Double?
    public var minLRRatio: Double = 0.1
    public var weightDecay: Double?
    public var beta1: Double?
    public var beta2: Double?
    public var eps: Double?
    public var clipGrad: Float?
    /// The three dropout rates of the model.
    public var dropout: Float?
    public var seqLength: Int?
    public var patternId: Int?
    public var seed: UInt64 = 1234
    /// Score the dev set every this many epochs (and at the end).
    public var evalEveryEpochs: Int = 1
    /// Sequences per forward pass when scoring the dev set.
    public var evalBatchSize: Int?
    /// Checkpoints (for resume) every this many optimizer steps, 0: at each dev evaluation only.
    public var saveEvery: Int = 0
    public var keepCheckpoints: Int = 2
    public var bf16: Bool = false
    /// Stop (saving) after this many seconds of training, 0 for none.
    public var timeLimit: Double = 0
    /// Data-parallel settings (ZeRO stage, bucket size) for runs under mpirun; nil: the defaults.
    public var parallel: ParallelOptions?
    /// `--task seq2seq`: the official task whose layout and settings apply (default `xsum`).
    /// The seq2seq and blank-infilling source length is ``seqLength``.
    public var seq2seqTask: String?
    /// Seq2seq and blank infilling: the target length, decoding settings of the dev evaluation, the
    /// loss's label smoothing and the blank mask ratio (nil: the task's official values).
    public var targetLength: Int?
    public var numBeams: Int?
    public var lengthPenalty: Double?
    public var noRepeatNgram: Int?
    public var minTargetLength: Int?
    public var labelSmoothing: Double?
    public var maskRatio: Double?
    /// Seq2seq: the task-mask layout ([sMASK]).
    public var taskMask: Bool?

    public init() {}

    /// Reads a JSON config file; keys absent from it keep the values of `base`; unknown keys are errors.
    public static func load(_ url: URL, over base: FinetuneConfig) throws -> FinetuneConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw TrainError.config("\(url.path): cannot read (\(error.localizedDescription))") }
        guard let patch = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TrainError.config("\(url.path): not a JSON object")
        }
        var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(base)) as! [String: Any]
        let known = Set(merged.keys).union(["devData", "tokenizer", "epochs", "batchSize", "learningRate", "warmup", "weightDecay",
                                            "beta1", "beta2", "eps", "clipGrad", "dropout", "seqLength", "patternId", "evalBatchSize",
                                            "seq2seqTask", "targetLength", "numBeams", "lengthPenalty", "noRepeatNgram",
                                            "minTargetLength", "labelSmoothing", "maskRatio", "taskMask", "parallel"])
        if let bad = patch.keys.sorted().first(where: { !known.contains($0) }) {
            throw TrainError.config("\(url.path): unknown key \"\(bad)\"")
        }
        for (k, v) in patch { merged[k] = v }
        do {
            return try JSONDecoder().decode(FinetuneConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw TrainError.config("\(url.path): field \"\(ctx.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type")
        } catch {
            throw TrainError.config("\(url.path): \(error)")
        }
    }

    /// Checks the settings that do not need the task or the data.
    public func validate() throws {
        func need(_ ok: Bool, _ msg: String) throws { if !ok { throw TrainError.config(msg) } }
        try need(!task.isEmpty, "no task: pass --task (boolq cb copa multirc record rte wic wsc bigbench, seq2seq, blank-infill, or a task file)")
        try need(!model.isEmpty, "no model: pass --model <pretrained model folder>")
        try need(!trainData.isEmpty, "no training data: pass --train <file> (or --data <folder> with train.jsonl, train.source or train.txt)")
        try need(epochs.map { $0 > 0 && $0 <= 1_000_000 } ?? true, "epochs must be in 1…1000000, got \(epochs ?? 0)")
        try need(batchSize.map { $0 > 0 && $0 <= 1 << 20 } ?? true, "batch-size must be in 1…1048576, got \(batchSize ?? 0)")
        try need(gradientAccumulation > 0 && gradientAccumulation <= 1 << 20, "grad-accum must be in 1…1048576, got \(gradientAccumulation)")
        try need(learningRate.map { $0 > 0 && $0.isFinite } ?? true, "lr must be a positive number, got \(learningRate ?? 0)")
        try need(warmup.map { $0 >= 0 && $0 < 1 } ?? true, "warmup must be a fraction in [0, 1), got \(warmup ?? 0)")
        try need(minLRRatio >= 0 && minLRRatio <= 1, "min-lr-ratio must be in [0, 1], got \(minLRRatio)")
        try need(weightDecay.map { $0 >= 0 && $0.isFinite } ?? true, "weight-decay must be ≥ 0")
        try need(dropout.map { $0 >= 0 && $0 < 1 } ?? true, "dropout must be in [0, 1), got \(dropout ?? 0)")
        try need(clipGrad.map { $0 >= 0 && $0.isFinite } ?? true, "clip-grad must be ≥ 0")
        try need(seqLength.map { $0 >= 8 && $0 <= 1 << 20 } ?? true, "seq-length must be in 8…1048576, got \(seqLength ?? 0)")
        try need((beta1.map { $0 >= 0 && $0 < 1 } ?? true) && (beta2.map { $0 >= 0 && $0 < 1 } ?? true),
                 "beta1 and beta2 must be in [0, 1)")
        try need(eps.map { $0 > 0 && $0.isFinite } ?? true, "eps must be a finite number greater than 0")
        try need(evalEveryEpochs > 0 && evalEveryEpochs <= 1_000_000, "eval-every-epochs must be in 1…1000000, got \(evalEveryEpochs)")
        try need(evalBatchSize.map { $0 > 0 && $0 <= 1 << 16 } ?? true, "eval-batch-size must be in 1…65536, got \(evalBatchSize ?? 0)")
        try need(saveEvery >= 0 && saveEvery <= TrainConfig.Limits.steps && keepCheckpoints > 0, "save-every must be in 0…\(TrainConfig.Limits.steps) and keep-checkpoints positive")
        try need(timeLimit >= 0 && timeLimit.isFinite, "time-limit must be ≥ 0 seconds")
        try parallel?.validate()
    }
}

/// The settings a task contributes when the run does not set them (the official per-task
/// scripts' values).
public struct TaskTrainingDefaults: Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var warmup: Double
    public var weightDecay: Double
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var clipGrad: Float
    public var dropout: Float
    public var seqLength: Int
    public var evalBatchSize: Int

    public init(epochs: Int, batchSize: Int, learningRate: Double, warmup: Double, weightDecay: Double, beta1: Double,
                beta2: Double, eps: Double, clipGrad: Float, dropout: Float, seqLength: Int, evalBatchSize: Int) {
        self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate; self.warmup = warmup
        self.weightDecay = weightDecay; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.clipGrad = clipGrad
        self.dropout = dropout; self.seqLength = seqLength; self.evalBatchSize = evalBatchSize
    }
}

extension FinetuneConfig {
    /// Every optional field filled from `defaults`.
    public func resolved(defaults d: TaskTrainingDefaults) -> FinetuneConfig {
        var c = self
        c.epochs = c.epochs ?? d.epochs
        c.batchSize = c.batchSize ?? d.batchSize
        c.learningRate = c.learningRate ?? d.learningRate
        c.warmup = c.warmup ?? d.warmup
        c.weightDecay = c.weightDecay ?? d.weightDecay
        c.beta1 = c.beta1 ?? d.beta1
        c.beta2 = c.beta2 ?? d.beta2
        c.eps = c.eps ?? d.eps
        c.clipGrad = c.clipGrad ?? d.clipGrad
        c.dropout = c.dropout ?? d.dropout
        c.seqLength = c.seqLength ?? d.seqLength
        c.evalBatchSize = c.evalBatchSize ?? d.evalBatchSize
        return c
    }
}
