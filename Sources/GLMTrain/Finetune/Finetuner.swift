import Foundation
import GLM
import GLMData
import GLMDistributed
import GLMNN
import GLMSystem
import GLMTasks
import GLMTensor
import GLMTokenizers

/// What a fine-tuning run reports.
public struct FinetuneSummary: Sendable {
    public var steps: Int
    public var epochs: Int
    public var finalLoss: Float
    /// The best dev metric (first of the task's), its value, the epoch and step it was reached at.
    public var best: (metric: String, value: Double, epoch: Int, step: Int)?
    /// The scores of the last dev evaluation.
    public var lastScores: [(String, Double)]
    public var stoppedBySignal: Int32?
}

/// Fine-tuning: setup (task, data, tokenizer, the pretrained model, the optimizer with the task's
/// official settings, or a checkpoint to resume) and the run, which is the same ``TrainingLoop``
/// as pretraining, fed by ``EpochBatches`` and watched by the metrics, progress, dev-evaluation
/// (best model kept as `<run>/model`) and checkpoint observers.
///
/// Given a communicator of several ranks (mpirun) it trains data-parallel as pretraining does:
/// every rank reads the model and data, trains its ``BatchPart`` of each global micro-batch;
/// rank 0 writes the run folder, scores the dev set and keeps the best model.
public final class Finetuner {
    public let config: FinetuneConfig
    public let runDir: URL
    public let task: FinetuneTask
    let model: GLMModel
    let optimizer: AdamW
    let schedule: AnnealingLR
    let checkpoints: RunCheckpoints
    let tokenizerFiles: [URL]
    let batches: EpochBatches
    let steps: Int
    var state: TrainerState
    let log: (String) -> Void
    /// The ranks training together (alone: ``LocalCommunicator``).
    public let comm: Communicator
    /// Data-parallel training, when there are several ranks.
    public let parallel: DataParallel?
    /// The run folder's lock, held by rank 0 while this object lives.
    let runLock: RunLock?

    /// Validates everything and reads the data before anything is written; with `resume`, restores
    /// the latest checkpoint of `config.output`. With several ranks in `communicator` every rank
    /// calls this; a failure on any rank stops all of them, and only rank 0 logs and writes.
    public init(config raw: FinetuneConfig, resume: Bool, communicator: Communicator = LocalCommunicator(),
                log: @escaping (String) -> Void) throws {
        comm = communicator
        let isRoot = communicator.isRoot
        let log: (String) -> Void = isRoot ? log : { _ in }
        self.log = log
        let runDir = URL(fileURLWithPath: raw.output).standardizedFileURL
        let checkpoints = RunCheckpoints(runDir: runDir)
        self.runDir = runDir
        self.checkpoints = checkpoints
        let setup = try communicator.agree { try Self.prepare(raw, resume: resume, isRoot: isRoot, checkpoints: checkpoints, log: log) }
        config = setup.config
        runLock = setup.lock
        task = setup.task
        tokenizerFiles = setup.tokenizer.files
        let c = setup.config
        let part = communicator.size > 1 ? BatchPart(communicator) : .whole
        batches = EpochBatches(task: task, batchSize: c.batchSize!, seed: c.seed, part: part)
        steps = (c.epochs! * batches.perEpoch + c.gradientAccumulation - 1) / c.gradientAccumulation
        let model = try communicator.agree { try GLMModel.load(setup.modelURL, config: setup.modelConfig, seed: c.seed) }
        self.model = model
        parallel = communicator.size > 1 ? DataParallel(comm: communicator, store: model.store, options: c.parallel ?? ParallelOptions()) : nil
        if let parallel {
            try communicator.agree { try parallel.part.check(batchSize: c.batchSize!) }
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            var data: [String: UInt64] = [:]
            for (name, path) in [("train", c.trainData), ("dev", c.devData)] {
                if let path, let bytes = FileManager.default.contents(atPath: path) { data[name] = Digest64.of(bytes) }
            }
            // Every rank must train the same config on the same files (the weights come from rank 0).
            try RunAgreement.check(communicator, claim: RunAgreement.Claim(config: String(decoding: try enc.encode(c), as: UTF8.self),
                                                                          data: data, firstBatch: 0, parameters: model.store.totalCount))
        }
        optimizer = AdamW(store: model.store, beta1: c.beta1!, beta2: c.beta2!, eps: c.eps!, weightDecay: c.weightDecay!,
                          decays: model.weightDecayFlags, shard: parallel?.optimizerShard)
        // Official fine-tuning: linear warmup over a fraction of all steps, then linear decay to
        // lr-decay-ratio · lr (learning_rates.py:AnnealingLR with --lr-decay-style linear).
        schedule = AnnealingLR(peak: c.learningRate!, warmupSteps: c.warmup! * Double(steps), decaySteps: steps, style: .linear,
                               minRatio: c.minLRRatio)
        state = try checkpoints.start(resume: resume, model: model, optimizer: optimizer, comm: communicator, parallel: parallel, log: log)
        model.bf16 = c.bf16
        if isRoot { try checkpoints.writeConfig(c) }
    }

    /// What setup reads before any model loads: the resolved config, the tokenizer, the task
    /// with its data, and where the model is.
    struct Setup {
        var config: FinetuneConfig
        var tokenizer: GLMTokenizer
        var task: FinetuneTask
        var modelURL: URL
        var modelConfig: GLMConfig
        /// The run folder's lock (rank 0).
        var lock: RunLock?
    }

    /// The checks and reads of setup; `isRoot`: this process owns the run folder (checks it and creates it).
    static func prepare(_ raw: FinetuneConfig, resume: Bool, isRoot: Bool, checkpoints: RunCheckpoints,
                        log: (String) -> Void) throws -> Setup {
        try raw.validate()
        let fm = FileManager.default
        let runDir = checkpoints.runDir
        if isRoot, !resume, checkpoints.hasCheckpoints {
            throw TrainError.io("\(runDir.path) already holds a run with checkpoints; pass --resume to continue it or choose another --output")
        }
        let modelURL = URL(fileURLWithPath: raw.model)
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: modelURL.path, isDirectory: &isDir) else { throw TrainError.config("--model \(raw.model): no such folder") }
        let tokFolder = raw.tokenizer.map { URL(fileURLWithPath: $0) } ?? (isDir.boolValue ? modelURL : modelURL.deletingLastPathComponent())
        let tokenizer: GLMTokenizer
        do { tokenizer = try GLMTokenizer(folder: tokFolder) } catch { throw TrainError.config("tokenizer \(tokFolder.path): \(error)") }
        let modelConfigURL = (isDir.boolValue ? modelURL : modelURL.deletingLastPathComponent()).appendingPathComponent("config.json")
        var modelConfig: GLMConfig
        do { modelConfig = try GLMConfig.load(modelConfigURL) } catch { throw TrainError.config("\(error)") }

        // The task, its defaults, and the data: all checked before the model loads.
        let kind = try FinetuneTaskKind.resolve(raw)
        var c = raw.resolved(defaults: kind.defaults)
        if raw.seqLength == nil && c.seqLength! > modelConfig.maxSequenceLength {
            // The task's official length does not fit this model's positions: use all it has.
            log("seq-length: the task's \(c.seqLength!) is longer than the model's max_sequence_length; using \(modelConfig.maxSequenceLength)")
            c.seqLength = modelConfig.maxSequenceLength
        }
        guard c.seqLength! <= modelConfig.maxSequenceLength else {
            throw TrainError.config("seq-length \(c.seqLength!) is longer than the model's max_sequence_length \(modelConfig.maxSequenceLength)")
        }
        guard tokenizer.numTokens <= modelConfig.vocabSize else {
            throw TrainError.config("the tokenizer in \(tokFolder.path) has \(tokenizer.numTokens) ids but the model's vocabulary has \(modelConfig.vocabSize) rows")
        }
        let task: FinetuneTask
        do { task = try kind.make(c, tokenizer, modelConfig) } catch let e as TaskError { throw TrainError.data("\(e)") }
        modelConfig.embeddingDropoutProb = c.dropout!
        modelConfig.attentionDropoutProb = c.dropout!
        modelConfig.outputDropoutProb = c.dropout!
        var lock: RunLock?
        if isRoot {
            lock = try checkpoints.lock(purpose: resume ? "glm finetune --resume" : "glm finetune")
            if !resume, checkpoints.hasCheckpoints {  // written by the run that held the lock just before
                throw TrainError.io("\(runDir.path) already holds a run with checkpoints; pass --resume to continue it or choose another --output")
            }
        }
        return Setup(config: c, tokenizer: tokenizer, task: task, modelURL: modelURL, modelConfig: modelConfig, lock: lock)
    }

    /// Trains `epochs` epochs (or until a signal or the time limit), scoring the dev set after each
    /// epoch and keeping the best model as `<run>/model`.
    public func run() throws -> FinetuneSummary {
        let isRoot = comm.isRoot
        let progress = ProgressObserver(totalSteps: steps)
        let say: (String) -> Void = { [log] in progress.interrupt(); log($0) }
        let metrics = isRoot ? try MetricsObserver(runDir: runDir, resumedAt: state.step, title: "GLM fine-tuning: \(task.name)") : nil
        let bestObserver = BestModelObserver(task: task, microBatchesPerEpoch: batches.perEpoch, everyEpochs: config.evalEveryEpochs,
                                             runDir: runDir, tokenizerFiles: tokenizerFiles, metrics: metrics, say: say)
        let saveEvery = config.saveEvery > 0 ? config.saveEvery : max(1, batches.perEpoch * config.evalEveryEpochs / config.gradientAccumulation)
        let saver = CheckpointObserver(checkpoints: checkpoints, every: saveEvery, keep: config.keepCheckpoints,
                                       tokenizerFiles: tokenizerFiles, parallel: parallel)
        var observers: [TrainingObserver] = isRoot ? [metrics!, progress, bestObserver, saver] : [saver]
        let accumulation = config.gradientAccumulation
        if let parallel {
            observers += parallel.runObservers(say: say, checkpoints: checkpoints, resumeCommand: "glm finetune --output \(runDir.path) --resume",
                                               waitsForRankZero: { [bestObserver] e in e.state.step % saveEvery == 0 || bestObserver.evaluates(after: e, accumulation: accumulation) })
        }
        var options = LoopOptions(steps: steps)
        options.gradientAccumulation = config.gradientAccumulation
        options.clipGrad = config.clipGrad!
        options.timeLimit = config.timeLimit
        let loop = TrainingLoop(model: model, optimizer: optimizer, schedule: schedule, state: state, options: options,
                                source: batches, observers: observers, parallel: parallel)
        log("fine-tuning \(task.name): \(task.trainingExampleCount) examples, \(config.epochs!) epochs × \(batches.perEpoch) batches of \(config.batchSize!)\(config.gradientAccumulation > 1 ? " (\(config.gradientAccumulation) per step)" : ""), \(steps) steps, lr \(config.learningRate!), seq \(config.seqLength!)")
        let startStep = state.step
        let reason = try loop.run()
        state = loop.state
        if case let .signal(s) = reason { log("signal \(s): stopped after step \(state.step), checkpoint saved") }
        if case .timeLimit = reason { log("time limit of \(Int(config.timeLimit)) s reached at step \(state.step)") }
        if state.step > 0, state.step != (saver.lastSaved ?? startStep) {
            try comm.unwatched { try saver.save(model, optimizer, state) }
        }
        // Without dev data there is no best: the result is the final model.
        if isRoot, bestObserver.best == nil {
            try model.save(to: runDir.appendingPathComponent("model"), tokenizerFiles: tokenizerFiles)
        }
        let stopped: Int32? = { if case let .signal(s) = reason { return s }; return nil }()
        return FinetuneSummary(steps: state.step, epochs: state.dataCursor / max(batches.perEpoch, 1), finalLoss: loop.last?.loss ?? .nan,
                               best: bestObserver.best.map { ($0.metric, $0.value, $0.epoch, $0.step) },
                               lastScores: bestObserver.last, stoppedBySignal: stopped)
    }
}

/// What `--task` names, with its training defaults and how to build it: cloze tasks (the eight
/// SuperGLUE tasks, BIG-bench, task files), `seq2seq` (``Seq2SeqFinetuneTask``, the official task
/// named by ``FinetuneConfig/seq2seqTask``) and `blank-infill` (``BlankInfillingFinetuneTask``).
public struct FinetuneTaskKind {
    public let defaults: TaskTrainingDefaults
    /// Builds the task from the resolved config, the tokenizer and the model's config.
    public let make: (FinetuneConfig, GLMTokenizer, GLMConfig) throws -> FinetuneTask

    public static func resolve(_ config: FinetuneConfig) throws -> FinetuneTaskKind {
        switch config.task {
        case "seq2seq", "blank-infill":
            let t: Seq2SeqTask
            if config.task == "blank-infill" {
                t = .blank
            } else {
                do { t = try Seq2SeqTask.named(config.seq2seqTask ?? "xsum") } catch { throw TrainError.config("\(error)") }
                guard t != .blank else { throw TrainError.config("--seq2seq-task blank: use --task blank-infill --mask-ratio R") }
            }
            if t == .blank && config.maskRatio == nil { throw TrainError.config("--task blank-infill needs --mask-ratio R (0 < R < 1)") }
            return FinetuneTaskKind(defaults: t.settings.trainingDefaults) { c, tokenizer, model in
                let s = try t.settings(Seq2SeqOverrides(sourceLength: c.seqLength, targetLength: c.targetLength, numBeams: c.numBeams,
                                                        lengthPenalty: c.lengthPenalty, noRepeatNgram: c.noRepeatNgram,
                                                        minTargetLength: c.minTargetLength, labelSmoothing: c.labelSmoothing,
                                                        maskRatio: c.maskRatio),
                                       positions: model.maxSequenceLength)
                let train = URL(fileURLWithPath: c.trainData), dev = c.devData.map { URL(fileURLWithPath: $0) }
                if t == .blank {
                    return try BlankInfillingFinetuneTask(settings: s, tokenizer: tokenizer, train: train, dev: dev, seed: c.seed,
                                                          evalBatchSize: c.evalBatchSize!)
                }
                return try Seq2SeqFinetuneTask(task: t, settings: s, tokenizer: tokenizer, taskMask: c.taskMask ?? false, train: train,
                                               dev: dev, evalBatchSize: c.evalBatchSize!)
            }
        default:
            let t: ClozeTask
            do { t = try ClozeTask.named(config.task) } catch { throw TrainError.config("\(error)") }
            return FinetuneTaskKind(defaults: t.trainingDefaults) { c, tokenizer, _ in
                try ClozeFinetuneTask(task: t, tokenizer: tokenizer, seqLength: c.seqLength!, patternId: c.patternId,
                                      train: URL(fileURLWithPath: c.trainData), dev: c.devData.map { URL(fileURLWithPath: $0) },
                                      evalBatchSize: c.evalBatchSize!)
            }
        }
    }

    /// The training and dev files of a data folder for `task`: the SuperGLUE release's
    /// `train.jsonl` / `val.jsonl`; for seq2seq `train.source` / `val.source` (their `.target`
    /// beside them) where they exist, else `train.jsonl` / `val.jsonl`; for blank infilling the
    /// official `train.txt` / `valid.txt`. A dev file that does not exist is left out.
    public static func dataFiles(task: String, folder: URL) -> (train: String, dev: String?) {
        let fm = FileManager.default
        func first(_ names: [String]) -> String? {
            names.map { folder.appendingPathComponent($0).path }.first { fm.fileExists(atPath: $0) }
        }
        switch task {
        case "seq2seq":
            return (first(["train.source", "train.jsonl"]) ?? folder.appendingPathComponent("train.jsonl").path,
                    first(["val.source", "val.jsonl"]))
        case "blank-infill":
            return (folder.appendingPathComponent("train.txt").path, first(["valid.txt"]))
        default:
            return (folder.appendingPathComponent("train.jsonl").path, first(["val.jsonl"]))
        }
    }
}
