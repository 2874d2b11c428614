import Foundation
import GLM
import GLMData
import GLMNN
import GLMSystem

/// Every knob of a pretraining run. Saved resolved as `config.json` in the run folder; a config
/// file given with `--config` holds any subset of these keys, and flags override it.
public struct TrainConfig: Codable, Sendable, Equatable {
    /// Model shape: a preset name (see ``GLMConfig/presets``) unless `model` is set.
    public var modelPreset: String = "glm-small"
    /// An explicit model shape (overrides `modelPreset`).
    public var model: GLMConfig?
    /// Shard folders (from `glm prepare`) or text files/folders (prepared into the run folder).
    public var data: [String] = []
    /// Held-out text files/folders or shard folder for evaluation (none: no evaluation).
    public var validationData: [String] = []
    /// Tokenizer folder (needed when `data` is text; shard folders name their own).
    public var tokenizer: String?
    /// Blank-infilling objective: token | sentence | document | a model preset (glm-base, glm-10b, …).
    public var objective: String = "glm-base"
    public var seqLength: Int = 512
    public var batchSize: Int = 16
    /// Micro-batches accumulated per optimizer step.
    public var gradientAccumulation: Int = 1
    public var steps: Int = 1000
    public var learningRate: Double = 4e-4
    /// Warmup as a fraction of `decaySteps` (the official `--warmup`).
    public var warmup: Double = 0.05
    /// Steps over which the LR decays (0: `steps`).
    public var decaySteps: Int = 0
    public var decayStyle: AnnealingLR.Style = .cosine
    /// The LR floor as a fraction of the peak.
    public var minLRRatio: Double = 0.05
    public var beta1: Double = 0.9
    public var beta2: Double = 0.98
    public var eps: Double = 1e-6
    public var weightDecay: Double = 0.1
    public var clipGrad: Float = 1.0
    /// Override the model's three dropout rates (nil: keep the model's).
    public var dropout: Float?
    public var seed: UInt64 = 1234
    public var saveEvery: Int = 0
    public var evalEvery: Int = 0
    /// Batches per evaluation.
    public var evalBatches: Int = 8
    /// Checkpoints kept (older ones are deleted).
    public var keepCheckpoints: Int = 3
    public var bf16: Bool = false
    /// Start from these weights (HF folder, official checkpoint, safetensors/bin file).
    public var initFrom: String?
    public var output: String = "runs/glm"
    /// Stop (and save) after this many seconds of training, 0 for none.
    public var timeLimit: Double = 0
    /// Blanks filled at the end, from held-out text.
    public var demoSentences: Int = 4
    /// Data-parallel settings (ZeRO stage, bucket size) for runs under mpirun; nil: the defaults.
    public var parallel: ParallelOptions?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case modelPreset, model, data, validationData, tokenizer, objective, seqLength, batchSize, gradientAccumulation
        case steps, learningRate, warmup, decaySteps, decayStyle, minLRRatio, beta1, beta2, eps, weightDecay, clipGrad
        case dropout, seed, saveEvery, evalEvery, evalBatches, keepCheckpoints, bf16, initFrom, output, timeLimit
        case demoSentences, parallel
    }

    /// The model shape this config trains.
    public func resolvedModel() throws -> GLMConfig {
        var m: GLMConfig
        if let model { m = model } else {
            guard let p = GLMConfig.presets[modelPreset] else {
                throw TrainError.config("unknown model preset '\(modelPreset)'; choose from \(GLMConfig.presets.keys.sorted().joined(separator: ", "))")
            }
            m = p
        }
        if let d = dropout { m.embeddingDropoutProb = d; m.attentionDropoutProb = d; m.outputDropoutProb = d }
        return m
    }

    public func lrSchedule() -> AnnealingLR {
        let decay = decaySteps > 0 ? decaySteps : steps
        return AnnealingLR(peak: learningRate, warmupSteps: warmup * Double(decay), decaySteps: decay,
                           style: decayStyle, minRatio: minLRRatio)
    }

    /// The collator settings for `objective`.
    public func collatorConfig() throws -> CollatorConfig {
        guard let c = CollatorConfig.named(objective) else {
            throw TrainError.config("unknown objective '\(objective)'; use token, sentence, document or a model's mix (glm-base, glm-doc, glm-sent, glm-large-chinese, glm-10b, …)")
        }
        try c.validate()
        return c
    }

    /// The largest batch, accumulation and step counts a run may ask for: far beyond real runs,
    /// and small enough that steps × accumulation × batch × sequence cannot overflow.
    public enum Limits {
        public static let batchSize = 1 << 16
        public static let gradientAccumulation = 1 << 20
        public static let steps = 1 << 30
    }

    /// Checks everything that can be checked before any work starts: the same checks whether a
    /// value came from a flag, a `--config` file or a run's saved `config.json`, each message
    /// naming the setting (`batchSize`: the config key, `--batch-size`: the flag).
    public func validate() throws {
        let m = try resolvedModel()
        do { try m.validate() } catch { throw TrainError.config("\(error)") }
        func need(_ ok: Bool, _ msg: String) throws { if !ok { throw TrainError.config(msg) } }
        try need(seqLength >= 8, "seqLength (--seq-length) must be at least 8, got \(seqLength)")
        try need(seqLength <= m.maxSequenceLength,
                 "seq-length \(seqLength) is above the model's max_sequence_length \(m.maxSequenceLength)")
        try need(batchSize > 0 && batchSize <= Limits.batchSize, "batchSize (--batch-size) must be in 1…\(Limits.batchSize), got \(batchSize)")
        try need(gradientAccumulation > 0 && gradientAccumulation <= Limits.gradientAccumulation,
                 "gradientAccumulation (--grad-accum) must be in 1…\(Limits.gradientAccumulation), got \(gradientAccumulation)")
        try need(steps > 0 && steps <= Limits.steps, "steps (--steps) must be in 1…\(Limits.steps), got \(steps)")
        try need(decaySteps >= 0 && decaySteps <= Limits.steps, "decaySteps must be in 0…\(Limits.steps), got \(decaySteps)")
        try need(learningRate > 0 && learningRate.isFinite, "learningRate (--lr) must be a finite number greater than 0, got \(learningRate)")
        try need(warmup >= 0 && warmup < 1, "warmup must be a fraction in [0, 1), got \(warmup)")
        try need(minLRRatio >= 0 && minLRRatio <= 1, "minLRRatio must be in [0, 1], got \(minLRRatio)")
        try need(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "beta1 and beta2 must be in [0, 1), got \(beta1) and \(beta2)")
        try need(eps > 0 && eps.isFinite, "eps must be a finite number greater than 0, got \(eps)")
        try need(weightDecay >= 0 && weightDecay.isFinite, "weightDecay must be a finite number ≥ 0, got \(weightDecay)")
        try need(clipGrad >= 0 && clipGrad.isFinite, "clipGrad must be a finite number ≥ 0 (0: no clipping), got \(clipGrad)")
        try need(dropout.map { $0 >= 0 && $0 < 1 } ?? true, "dropout must be in [0, 1), got \(dropout ?? 0)")
        try need(saveEvery >= 0 && evalEvery >= 0, "saveEvery (--save-every) and evalEvery (--eval-every) must be ≥ 0")
        try need(evalBatches > 0 && evalBatches <= Limits.steps, "evalBatches must be in 1…\(Limits.steps), got \(evalBatches)")
        try need(keepCheckpoints > 0, "keepCheckpoints (--keep) must be positive, got \(keepCheckpoints)")
        try need(timeLimit >= 0 && timeLimit.isFinite, "timeLimit (--time-limit) must be a finite number of seconds ≥ 0, got \(timeLimit)")
        try need(demoSentences >= 0 && demoSentences <= 1000, "demoSentences must be in 0…1000, got \(demoSentences)")
        try need(!data.isEmpty, "no training data: pass --data <shard folder or text files>")
        try parallel?.validate()
        _ = try collatorConfig()
    }
}

/// Errors of a training run, each naming the file, flag or field at fault.
public enum TrainError: Error, CustomStringConvertible {
    case config(String)
    case data(String)
    case io(String)
    case checkpoint(String)
    /// NaN or infinite values: in weights or moments (never saved, never resumed), or a run whose
    /// loss or gradient norm stayed non-finite (stopped without saving).
    case nonFinite(String)

    public var description: String {
        switch self {
        case let .config(m): return "configuration: \(m)"
        case let .data(m): return "data: \(m)"
        case let .io(m): return m
        case let .checkpoint(m): return "checkpoint: \(m)"
        case let .nonFinite(m): return "non-finite values: \(m)"
        }
    }
}

extension TrainConfig {
    /// Run presets: `tiny` (tests, seconds), `small` (the embedded default), `glm-base`, `glm-large`.
    public static func preset(_ name: String) throws -> TrainConfig {
        var c = TrainConfig()
        switch name {
        case "tiny":
            c.modelPreset = "glm-tiny"; c.seqLength = 64; c.batchSize = 4; c.steps = 20; c.learningRate = 1e-3
            c.warmup = 0.1; c.evalBatches = 2
        case "small":
            c.model = GLMConfig(numLayers: 4, hiddenSize: 256, numAttentionHeads: 4, vocabSize: 30592,
                                maxSequenceLength: 128, dropout: 0.1)
            c.seqLength = 128; c.batchSize = 16; c.steps = 2800; c.learningRate = 1e-3; c.warmup = 0.02
            c.minLRRatio = 0.1; c.weightDecay = 0.01; c.evalEvery = 350; c.saveEvery = 700; c.evalBatches = 16
        case "glm-base":
            c.modelPreset = "glm-base"; c.seqLength = 512; c.batchSize = 16; c.steps = 150_000; c.decaySteps = 120_000
            c.learningRate = 4e-4; c.warmup = 0.05; c.weightDecay = 0.1; c.saveEvery = 1000; c.evalEvery = 1000
        case "glm-large":
            c.modelPreset = "glm-large"; c.seqLength = 512; c.batchSize = 16; c.steps = 200_000; c.decaySteps = 160_000
            c.learningRate = 2e-4; c.warmup = 0.05; c.weightDecay = 0.1; c.saveEvery = 1000; c.evalEvery = 1000
        default:
            throw TrainError.config("unknown run preset '\(name)'; choose from tiny, small, glm-base, glm-large")
        }
        return c
    }

    /// The repository folder holding `Resources/` (the bundled corpus and vocabularies): the
    /// working directory or one of its parents, else the checkout this library was built from.
    public static func bundledResourcesRoot() -> URL? {
        let fm = FileManager.default
        var dir = URL(fileURLWithPath: fm.currentDirectoryPath)
        for _ in 0..<6 {
            if fm.fileExists(atPath: dir.appendingPathComponent("Resources/corpus/train").path) { return dir }
            dir.deleteLastPathComponent()
        }
        let src = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return fm.fileExists(atPath: src.appendingPathComponent("Resources/corpus/train").path) ? src : nil
    }

    /// Without training data, the bundled corpus: `Resources/corpus/train` (54 public-domain
    /// works), *Persuasion* held out, the BERT uncased vocabulary. Returns the folder used, or nil
    /// when `data` was set or the resources are not found.
    @discardableResult
    public mutating func useBundledCorpusIfNoData() -> URL? {
        guard data.isEmpty, let root = Self.bundledResourcesRoot() else { return nil }
        data = [root.appendingPathComponent("Resources/corpus/train").path]
        if validationData.isEmpty { validationData = [root.appendingPathComponent("Resources/corpus/valid").path] }
        if tokenizer == nil { tokenizer = root.appendingPathComponent("Resources/tokenizers/bert-base-uncased").path }
        return root
    }

    /// The embedded default run, `glm pretrain` with no arguments: the `small` preset on the
    /// bundled corpus, written to `runs/default`, stopping after 9 minutes of training at the
    /// latest (the README's promise for 2 cores).
    public static func embeddedDefault() throws -> TrainConfig {
        var c = try preset("small")
        c.output = "runs/default"
        c.timeLimit = 540
        guard c.useBundledCorpusIfNoData() != nil else {
            throw TrainError.data("the bundled corpus (Resources/corpus) was not found from \(FileManager.default.currentDirectoryPath); run from the repository or pass --data")
        }
        return c
    }

    /// Reads a JSON config file; keys absent from it keep the values of `base`.
    public static func load(_ url: URL, over base: TrainConfig) throws -> TrainConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw TrainError.config("\(url.path): cannot read (\(error.localizedDescription))") }
        guard let patch = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TrainError.config("\(url.path): not a JSON object")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let bad = patch.keys.first(where: { !known.contains($0) }) {
            throw TrainError.config("\(url.path): unknown key \"\(bad)\"")
        }
        var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(base)) as! [String: Any]
        for (k, v) in patch { merged[k] = v }
        do {
            return try decodeJSON(TrainConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch {
            throw TrainError.config("\(url.path): \(describeDecodingError(error))")
        }
    }
}
