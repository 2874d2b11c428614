import Foundation
import GLM
import GLMData
import GLMDistributed
import GLMNN
import GLMSystem
import GLMTensor
import GLMTokenizers

/// What a finished (or stopped) run reports.
public struct TrainSummary: Sendable {
    public var steps: Int
    public var finalLoss: Float
    public var evalLoss: Double?
    public var tokensPerSecond: Double
    public var stoppedBySignal: Int32?
    public var demo: [(masked: String, filled: String)]
}

/// Pretraining: setup (tokenise, open data, build or restore the model) and the run, which is the
/// one ``TrainingLoop`` fed with blank-infilling batches and watched by the metrics, progress,
/// held-out-loss and checkpoint observers; at the end the model folder, the loss curve and a
/// blank-filling demo on held-out text.
///
/// Given a communicator of several ranks (processes started by mpirun) it trains data-parallel:
/// rank 0 checks and writes the run folder, logs, evaluates and checkpoints; every rank trains
/// its rows of each global batch (``BatchPart``), and ``DataParallel`` sums the gradients. Setup
/// failures on any rank stop every rank with the reason (``Communicator/agree(_:)``), and ranks
/// that disagree on config or data are named before training starts (``RunAgreement``).
public final class Trainer {
    public let config: TrainConfig
    public let runDir: URL
    let model: GLMModel
    let optimizer: AdamW
    let train: ShardDataset
    let valid: ShardDataset?
    let validText: [String]
    let collator: BlockCollator
    let tokenizer: GLMTokenizer?
    let tokenizerFiles: [URL]
    let checkpoints: RunCheckpoints
    let schedule: AnnealingLR
    var state: TrainerState
    let log: (String) -> Void
    /// The ranks training together (alone: ``LocalCommunicator``).
    public let comm: Communicator
    /// Data-parallel training, when there are several ranks.
    public let parallel: DataParallel?
    /// The run folder's lock, held by the process that writes it (rank 0) while this object lives.
    let runLock: RunLock?

    /// Validates everything, prepares text data into shards, builds the model (from
    /// `initFrom` if given) and, with `resume`, restores the latest checkpoint. Nothing is
    /// written to the run folder until every check has passed. With several ranks in `comm`,
    /// every rank calls this; only rank 0 logs (through `log`) and writes the run folder.
    public init(config: TrainConfig, resume: Bool, communicator: Communicator = LocalCommunicator(),
                log: @escaping (String) -> Void) throws {
        comm = communicator
        let distributed = communicator.size > 1
        let isRoot = communicator.isRoot
        self.log = isRoot ? log : { _ in }
        self.config = config
        let runDir = URL(fileURLWithPath: config.output).standardizedFileURL
        let checkpoints = RunCheckpoints(runDir: runDir)
        self.runDir = runDir
        self.checkpoints = checkpoints
        try communicator.agree { try config.validate() }
        let modelConfig = try config.resolvedModel()

        // Rank 0 checks the run folder and prepares the data first; then the other ranks open
        // the data (a shared file system hands them rank 0's prepared shards; otherwise each
        // prepares its own copy in its run folder).
        var opened: OpenedData?
        try communicator.agree {
            if isRoot { opened = try Trainer.checkAndOpen(config: config, resume: resume, runDir: runDir, checkpoints: checkpoints,
                                                        writesRunFolder: true, log: log) }
        }
        try communicator.agree {
            if !isRoot { opened = try Trainer.checkAndOpen(config: config, resume: resume, runDir: runDir, checkpoints: checkpoints,
                                                         writesRunFolder: false, log: { _ in }) }
        }
        guard let data = opened else { throw TrainError.data("internal: no data opened") }
        runLock = data.lock
        train = data.train
        valid = data.valid
        validText = data.validText
        tokenizer = data.tokenizer
        tokenizerFiles = data.tokenizer?.files ?? []
        collator = try BlockCollator(config: config.collatorConfig(), dataset: data.train, seqLength: config.seqLength)

        let model = try GLMModel(config: modelConfig, seed: config.seed)
        self.model = model
        let options = config.parallel ?? ParallelOptions()
        parallel = distributed ? DataParallel(comm: communicator, store: model.store, options: options) : nil
        if distributed {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            let manifests = [("train", data.train), ("valid", data.valid)].compactMap { name, ds in
                ds.map { (name, Digest64.of(((try? enc.encode($0.manifest)) ?? Data()))) }
            }
            let first = BatchLoader.makeBatch(0, dataset: data.train, collator: collator, batchSize: config.batchSize, seed: config.seed)
            var batchDigest = Digest64()
            first.inputIds.withUnsafeBytes { batchDigest.update(words: $0.baseAddress!, count: first.inputIds.count) }
            try RunAgreement.check(communicator, claim: RunAgreement.Claim(
                config: String(decoding: try enc.encode(config), as: UTF8.self),
                data: Dictionary(uniqueKeysWithValues: manifests), firstBatch: batchDigest.value, parameters: model.store.totalCount))
            try parallel?.part.check(batchSize: config.batchSize)
        }
        try communicator.agree {
            if isRoot, let initFrom = config.initFrom {
                let src = try GLMModel.load(URL(fileURLWithPath: initFrom), config: modelConfig)
                try model.loadWeights(src.stateDict(), source: initFrom)
                log("initialised from \(initFrom)")
            }
        }
        optimizer = AdamW(store: model.store, beta1: config.beta1, beta2: config.beta2, eps: config.eps,
                          weightDecay: config.weightDecay, decays: model.weightDecayFlags, shard: parallel?.optimizerShard)
        schedule = config.lrSchedule()
        state = try checkpoints.start(resume: resume, model: model, optimizer: optimizer, comm: communicator, parallel: parallel, log: log)
        model.bf16 = config.bf16
        if isRoot { try checkpoints.writeConfig(config) }
    }

    /// The tokenizer and datasets of a run.
    struct OpenedData {
        var tokenizer: GLMTokenizer?
        var train: ShardDataset
        var valid: ShardDataset?
        var validText: [String]
        /// The run folder's lock (the process that writes it).
        var lock: RunLock?
    }

    /// The checks that need no writing, then the data (text is tokenised once into the run
    /// folder). `writesRunFolder`: this process owns the run folder (checks it and creates it).
    static func checkAndOpen(config: TrainConfig, resume: Bool, runDir: URL, checkpoints: RunCheckpoints,
                             writesRunFolder: Bool, log: (String) -> Void) throws -> OpenedData {
        let fm = FileManager.default
        let modelConfig = try config.resolvedModel()
        var isDir: ObjCBool = false
        if writesRunFolder, fm.fileExists(atPath: runDir.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw TrainError.io("--output \(runDir.path) exists and is not a folder") }
            if !resume, checkpoints.hasCheckpoints {
                throw TrainError.io("\(runDir.path) already holds a run with checkpoints; pass --resume to continue it or choose another --output")
            }
        }
        if writesRunFolder, resume, fm.fileExists(atPath: runDir.path) == false {
            throw TrainError.checkpoint("--resume: \(runDir.path) does not exist")
        }
        var tok: GLMTokenizer? = nil
        if let t = config.tokenizer {
            do { tok = try GLMTokenizer(folder: URL(fileURLWithPath: t)) } catch {
                throw TrainError.config("--tokenizer \(t): \(error)")
            }
        }
        for p in config.data + config.validationData where !fm.fileExists(atPath: p) {
            throw TrainError.data("\(p) does not exist")
        }
        var lock: RunLock?
        if writesRunFolder {
            lock = try checkpoints.lock(purpose: resume ? "glm pretrain --resume" : "glm pretrain")
            guard fm.isWritableFile(atPath: runDir.path) else { throw TrainError.io("--output \(runDir.path) is not writable") }
            if !resume, checkpoints.hasCheckpoints {  // written by the run that held the lock just before
                throw TrainError.io("\(runDir.path) already holds a run with checkpoints; pass --resume to continue it or choose another --output")
            }
        }

        let trainSet = try Self.openData(config.data, name: "train", tokenizer: &tok,
                                          tokenizerFolder: config.tokenizer.map { URL(fileURLWithPath: $0) }, runDir: runDir, log: log)
        var valid: ShardDataset?
        var validText: [String] = []
        if !config.validationData.isEmpty {
            valid = try Self.openData(config.validationData, name: "valid", tokenizer: &tok,
                                     tokenizerFolder: config.tokenizer.map { URL(fileURLWithPath: $0) }, runDir: runDir, log: log)
            validText = Self.readTexts(config.validationData)
        }
        let numTokens = trainSet.manifest.tokenizer.numTokens
        guard numTokens <= modelConfig.vocabSize else {
            throw TrainError.config("the data's tokenizer has \(numTokens) tokens but the model's vocab_size is \(modelConfig.vocabSize)")
        }
        return OpenedData(tokenizer: tok, train: trainSet, valid: valid, validText: validText, lock: lock)
    }

    /// Shard folder as is; text files/folders tokenised once into `runDir/data/<name>`.
    static func openData(_ paths: [String], name: String, tokenizer: inout GLMTokenizer?, tokenizerFolder: URL?,
                         runDir: URL, log: (String) -> Void) throws -> ShardDataset {
        let fm = FileManager.default
        if paths.count == 1, fm.fileExists(atPath: URL(fileURLWithPath: paths[0]).appendingPathComponent("manifest.json").path) {
            let folder = URL(fileURLWithPath: paths[0])
            let ds = try ShardDataset(folder: folder, tokenizerIdentity: tokenizer?.identity)
            if tokenizer == nil, let f = try? ds.manifest.tokenizerFolder(shardFolder: folder, override: nil) {
                tokenizer = try? GLMTokenizer(folder: f)
            }
            return ds
        }
        guard let tok = tokenizer else {
            throw TrainError.config("--data \(paths.joined(separator: " ")) is text: pass --tokenizer <folder> to tokenise it (or prepare shards with glm prepare)")
        }
        let out = runDir.appendingPathComponent("data").appendingPathComponent(name)
        let stamp = out.appendingPathComponent("inputs.json")
        let inputs = paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let stampData = try JSONEncoder().encode(["inputs": inputs, "tokenizer": [tok.identity]])
        if fm.fileExists(atPath: out.appendingPathComponent("manifest.json").path),
           (try? Data(contentsOf: stamp)) == stampData {
            return try ShardDataset(folder: out, tokenizerIdentity: tok.identity)
        }
        log("tokenising \(name) data into \(out.path)")
        let m = try CorpusPreparer.prepare(inputs: paths.map { URL(fileURLWithPath: $0) },
                                           tokenizer: DataTokenizer(tok, folder: tokenizerFolder), output: out,
                                           options: PrepareOptions(split: .blankLine)) { _ in }
        log("  \(m.counts.documents) documents, \(m.counts.tokens) tokens")
        try stampData.write(to: stamp)
        return try ShardDataset(folder: out, tokenizerIdentity: tok.identity)
    }

    static func readTexts(_ paths: [String]) -> [String] {
        guard let files = try? CorpusPreparer.listFiles(paths.map { URL(fileURLWithPath: $0) }) else { return [] }
        return files.compactMap { try? String(contentsOf: $0, encoding: .utf8) }
    }

    func tensors(_ b: Batch) throws -> (ids: Tensor, pos: Tensor, targets: Tensor, mask: Tensor) {
        let n = b.batchSize, s = b.seqLength
        return (try Tensor(int32: b.inputIds, shape: [n, s]), try Tensor(int32: b.positionIds, shape: [n, 2, s]),
                try Tensor(int32: b.targets, shape: [n, s]), try Tensor(b.lossMask, shape: [n, s]))
    }

    /// Held-out Part B loss: a token mean over `evalBatches` fixed batches of the validation set.
    /// A stop signal received meanwhile (``SignalWatcher/received``) cuts it short: nil, so a
    /// partial mean is never logged, and the run stops within one batch.
    public func evaluate() throws -> Double? {
        guard let valid else { return nil }
        let c = try BlockCollator(config: config.collatorConfig(), dataset: valid, seqLength: config.seqLength)
        let wasTraining = model.training
        model.training = false
        defer { model.training = wasTraining }
        var sum = 0.0, weight = 0.0
        for k in 0..<config.evalBatches {
            if SignalWatcher.received != nil { return nil }
            let b = BatchLoader.makeBatch(k, dataset: valid, collator: c, batchSize: config.batchSize, seed: config.seed ^ 0xE7A1)
            let t = try tensors(b)
            let w = Double(b.lossMask.reduce(0, +))
            guard w > 0 else { continue }
            let loss = try Autograd.withNoGrad {
                try model.loss(inputIds: t.ids, positionIds: t.pos, mask: .separators(b.seps), targets: t.targets, lossMask: t.mask)
            }
            sum += Double(loss.item) * w
            weight += w
        }
        return weight > 0 ? sum / weight : nil
    }

    /// Runs until `config.steps`, a stop signal, or the time limit; saves a final checkpoint and
    /// the final model folder (`runDir/model`). Every rank of a data-parallel run calls it;
    /// rank 0 alone logs, evaluates, writes and fills the demo blanks.
    public func run() throws -> TrainSummary {
        let isRoot = comm.isRoot
        let progress = ProgressObserver(totalSteps: config.steps)
        let say: (String) -> Void = { [log] in progress.interrupt(); log($0) }
        var observers: [TrainingObserver] = []
        var heldOut: EvaluationObserver?
        let metrics = isRoot ? try MetricsObserver(runDir: runDir, resumedAt: state.step, title: "GLM pretraining: \(runDir.lastPathComponent)") : nil
        if let metrics { observers += [metrics, progress] }
        if isRoot, valid != nil {
            let e = EvaluationObserver(every: config.evalEvery, metrics: metrics, say: say, describe: { step, v in
                String(format: "step %d: held-out Part B loss %.4f (ppl %.1f)", step, v[0].1, Foundation.exp(v[0].1))
            }, evaluate: { [unowned self] _ in
                try self.evaluate().map { [("eval_loss", $0), ("eval_ppl", Foundation.exp($0))] } ?? []
            })
            observers.append(e)
            heldOut = e
        }
        let saver = CheckpointObserver(checkpoints: checkpoints, every: config.saveEvery, keep: config.keepCheckpoints,
                                       tokenizerFiles: tokenizerFiles, parallel: parallel)
        observers.append(saver)
        if let parallel {
            let every = [config.evalEvery, config.saveEvery].filter { $0 > 0 }
            observers += parallel.runObservers(say: say, checkpoints: checkpoints, resumeCommand: "glm pretrain --output \(runDir.path) --resume",
                                               waitsForRankZero: { e in every.contains { e.state.step % $0 == 0 } })
        }
        let loader = try BatchLoader(dataset: train, collator: collator, batchSize: config.batchSize, seed: config.seed,
                                     cursor: state.dataCursor, prefetch: 4)
        defer { loader.stop() }
        var options = LoopOptions(steps: config.steps)
        options.gradientAccumulation = config.gradientAccumulation
        options.clipGrad = config.clipGrad
        options.timeLimit = config.timeLimit
        let loop = TrainingLoop(model: model, optimizer: optimizer, schedule: schedule, state: state, options: options,
                                source: PretrainBatches(loader: loader, part: parallel?.part ?? .whole), observers: observers,
                                parallel: parallel)
        let ranks = parallel.map { p in ", \(comm.size) ranks × \(config.batchSize / comm.size)\(config.batchSize % comm.size == 0 ? "" : "–\(config.batchSize / comm.size + 1)") rows\(p.shardsOptimizer ? ", ZeRO-1" : "")" } ?? ""
        log("training \(model.config.numLayers) layers × \(model.config.hiddenSize) hidden (\(model.store.totalCount) parameters) for \(config.steps) steps, batch \(config.batchSize)×\(config.gradientAccumulation), seq \(config.seqLength)\(config.bf16 ? ", bf16 matmuls" : "")\(ranks)")
        let startElapsed = state.elapsed, startTokens = state.tokens, startStep = state.step
        let reason = try loop.run()
        state = loop.state
        switch reason {
        case .timeLimit: log("time limit of \(Int(config.timeLimit)) s reached at step \(state.step)")
        case let .signal(s): log("signal \(s): stopped after step \(state.step), checkpoint saved")
        case .finished: break
        }
        if state.step > 0, state.step != (saver.lastSaved ?? startStep) {
            // Stopped before the first step's checkpoint (or between checkpoints): save where we are.
            try comm.unwatched { try saver.save(model, optimizer, state) }
        }
        let stopped: Int32? = { if case let .signal(s) = reason { return s }; return nil }()
        var demo: [(masked: String, filled: String)] = []
        if isRoot {
            try model.save(to: runDir.appendingPathComponent("model"), tokenizerFiles: tokenizerFiles)
            demo = stopped == nil ? try fillDemo() : []
        }
        let total = Double(state.tokens - startTokens) / max(state.elapsed - startElapsed, 1e-9)
        return TrainSummary(steps: state.step, finalLoss: loop.last?.loss ?? .nan, evalLoss: heldOut?.last.first?.1,
                            tokensPerSecond: total, stoppedBySignal: stopped, demo: demo)
    }

    /// Held-out sentences with one blank each, and the model's greedy fills.
    func fillDemo() throws -> [(masked: String, filled: String)] {
        guard let tok = tokenizer, config.demoSentences > 0, !validText.isEmpty else { return [] }
        let sentences = DemoSentences.pick(from: validText.joined(separator: "\n\n"), count: config.demoSentences,
                                           seed: config.seed)
        let maskString = tok.tokenString(tok.commands.mask) ?? "[MASK]"
        var gen = GenerationConfig()
        gen.greedy = true
        gen.maxNewTokens = 8
        gen.bannedIds = Array(tok.numTokens..<model.config.vocabSize) + [tok.commands.unk]
        let masked = sentences.map { words, span in
            (words[..<span.lowerBound] + [maskString] + words[span.upperBound...]).joined(separator: " ")
        }.filter { (try? BlankFiller.context(for: $0, tokenizer: tok).count) ?? .max <= model.config.maxSequenceLength }
        let filled = try BlankFiller(model: model).fill(texts: masked, tokenizer: tok, config: gen)
        return filled.map { ($0.prompt, $0.marked(tokenizer: tok) { "[" + $0 + "]" }) }
    }
}

/// The pretraining batch stream as a ``BatchSource``: micro-batch k is the loader's batch k, or
/// this rank's rows of it (``BatchPart``).
final class PretrainBatches: BatchSource {
    let loader: BatchLoader
    let part: BatchPart
    init(loader: BatchLoader, part: BatchPart = .whole) { self.loader = loader; self.part = part }

    func batch(_ index: Int) throws -> TrainingBatch {
        // The loader prefetches consecutive batches from the resume cursor; anything else is computed directly.
        let whole = index == loader.cursor ? loader.next() : loader.batch(index)
        let window = part.window(rows: whole.batchSize)
        if part.range(rows: whole.batchSize).isEmpty { return .empty(tokens: whole.batchSize * whole.seqLength, label: whole.mode.rawValue) }
        let b = window.map { whole.rows($0.range) } ?? whole
        // Summed as the loss sums the mask (Double, row order): the same denominator bit for bit.
        let normalizer = part.normalizer(wholeBatchMask: whole.lossMask.reduce(0.0) { $0 + Double($1) })
        let n = b.batchSize, s = b.seqLength
        let ids = try Tensor(int32: b.inputIds, shape: [n, s]), pos = try Tensor(int32: b.positionIds, shape: [n, 2, s])
        let targets = try Tensor(int32: b.targets, shape: [n, s]), mask = try Tensor(b.lossMask, shape: [n, s])
        let seps = b.seps
        var batch = TrainingBatch(tokens: whole.batchSize * s, label: b.mode.rawValue, rows: window) { model in
            try model.loss(inputIds: ids, positionIds: pos, mask: .separators(seps), targets: targets, lossMask: mask,
                           normalizer: normalizer)
        }
        batch.someRanksIdle = whole.batchSize < part.count
        return batch
    }
}

/// Picks held-out sentences for the blank-filling demo: 8–24 words, one span of 1–3 words
/// away from the ends, deterministic in `seed`.
enum DemoSentences {
    static func pick(from text: String, count: Int, seed: UInt64) -> [([String], Range<Int>)] {
        var sentences: [[String]] = []
        var current: [String] = []
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }) {
            current.append(String(word))
            if let last = word.last, ".!?".contains(last) {
                if current.count >= 8 && current.count <= 24 && current.allSatisfy({ $0.unicodeScalars.allSatisfy { $0.isASCII } }) {
                    sentences.append(current)
                }
                current = []
            }
        }
        guard !sentences.isEmpty else { return [] }
        var rng = GLMRandom(seed: seed)
        func next() -> Int { rng.int(below: Int.max) }
        return (0..<min(count, sentences.count)).map { _ in
            let s = sentences[next() % sentences.count]
            let len = 1 + next() % 3
            let start = 2 + next() % max(1, s.count - len - 3)
            return (s, start..<min(start + len, s.count - 1))
        }
    }
}
