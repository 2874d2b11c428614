import Foundation
import GLM
import GLMData
import GLMNN
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

/// Pretraining: blank-infilling batches → GLM → Part B loss → AdamW, with checkpoints that resume
/// exactly, metrics, evaluation on held-out text and a blank-filling demo at the end.
public final class Trainer {
    public let config: TrainConfig
    public let runDir: URL
    let model: GLMModel
    let optimizer: AdamW
    let schedule: AnnealingLR
    let train: ShardDataset
    let valid: ShardDataset?
    let validText: [String]
    let collator: BlockCollator
    let tokenizer: GLMTokenizer?
    let tokenizerFiles: [URL]
    let checkpoints: RunCheckpoints
    var state: TrainerState
    let log: (String) -> Void

    /// Validates everything, prepares text data into shards, builds the model (from
    /// `initFrom` if given) and, with `resume`, restores the latest checkpoint. Nothing is
    /// written to the run folder until every check has passed.
    public init(config: TrainConfig, resume: Bool, log: @escaping (String) -> Void) throws {
        try config.validate()
        self.config = config
        self.log = log
        let fm = FileManager.default
        runDir = URL(fileURLWithPath: config.output).standardizedFileURL
        checkpoints = RunCheckpoints(runDir: runDir)
        let modelConfig = try config.resolvedModel()

        // Checks that need no writing come first.
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: runDir.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw TrainError.io("--output \(runDir.path) exists and is not a folder") }
            if !resume, (try? checkpoints.latest()) != nil {
                throw TrainError.io("\(runDir.path) already holds a run with checkpoints; pass --resume to continue it or choose another --output")
            }
        }
        if resume, try checkpoints.latest() == nil, fm.fileExists(atPath: runDir.path) == false {
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
        try fm.createDirectory(at: runDir, withIntermediateDirectories: true)
        guard fm.isWritableFile(atPath: runDir.path) else { throw TrainError.io("--output \(runDir.path) is not writable") }

        let trainSet = try Self.openData(config.data, name: "train", tokenizer: &tok,
                                          tokenizerFolder: config.tokenizer.map { URL(fileURLWithPath: $0) }, runDir: runDir, log: log)
        train = trainSet
        if !config.validationData.isEmpty {
            valid = try Self.openData(config.validationData, name: "valid", tokenizer: &tok,
                                     tokenizerFolder: config.tokenizer.map { URL(fileURLWithPath: $0) }, runDir: runDir, log: log)
            validText = Self.readTexts(config.validationData)
        } else {
            valid = nil
            validText = []
        }
        tokenizer = tok
        tokenizerFiles = tok.map { _ in Self.tokenizerFiles(config, train: trainSet) } ?? []
        let numTokens = trainSet.manifest.tokenizer.numTokens
        guard numTokens <= modelConfig.vocabSize else {
            throw TrainError.config("the data's tokenizer has \(numTokens) tokens but the model's vocab_size is \(modelConfig.vocabSize)")
        }
        collator = try BlockCollator(config: config.collatorConfig(), dataset: trainSet, seqLength: config.seqLength)

        model = try GLMModel(config: modelConfig, seed: config.seed)
        if let initFrom = config.initFrom {
            let src = try GLMModel.load(URL(fileURLWithPath: initFrom), config: modelConfig)
            try model.loadWeights(src.stateDict(), source: initFrom)
            log("initialised from \(initFrom)")
        }
        optimizer = AdamW(store: model.store, beta1: config.beta1, beta2: config.beta2, eps: config.eps,
                          weightDecay: config.weightDecay, decays: model.weightDecayFlags)
        schedule = config.lrSchedule()
        state = TrainerState(step: 0, dataCursor: 0, dropoutSeed: model.rng.seed, dropoutOffset: 0, tokens: 0, elapsed: 0)
        if resume, let dir = try checkpoints.latest() {
            checkpoints.removeStaleTemporaries()
            state = try checkpoints.restore(dir, model: model, optimizer: optimizer)
            model.rng.seek(to: state.dropoutOffset)
            log("resumed from \(dir.lastPathComponent) (step \(state.step))")
        }
        model.bf16 = config.bf16
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFolder.writeFile(enc.encode(config), to: runDir.appendingPathComponent("config.json"))
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

    static func tokenizerFiles(_ config: TrainConfig, train: ShardDataset) -> [URL] {
        let folder = config.tokenizer.map { URL(fileURLWithPath: $0) }
            ?? train.manifest.tokenizer.folder.map { URL(fileURLWithPath: $0) }
        guard let folder else { return [] }
        let names = ["vocab.txt", "vocab.json", "merges.txt", "encoder.json", "vocab.bpe", "tokenizer.json",
                     "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"]
        let models = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".model") }
        return (names + models).map { folder.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
    }

    func tensors(_ b: Batch) throws -> (ids: Tensor, pos: Tensor, targets: Tensor, mask: Tensor) {
        let n = b.batchSize, s = b.seqLength
        return (try Tensor(int32: b.inputIds, shape: [n, s]), try Tensor(int32: b.positionIds, shape: [n, 2, s]),
                try Tensor(int32: b.targets, shape: [n, s]), try Tensor(b.lossMask, shape: [n, s]))
    }

    /// Held-out Part B loss: a token mean over `evalBatches` fixed batches of the validation set.
    public func evaluate() throws -> Double? {
        guard let valid else { return nil }
        let c = try BlockCollator(config: config.collatorConfig(), dataset: valid, seqLength: config.seqLength)
        let wasTraining = model.training
        model.training = false
        defer { model.training = wasTraining }
        var sum = 0.0, weight = 0.0
        for k in 0..<config.evalBatches {
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
    /// the final model folder (`runDir/model`).
    public func run() throws -> TrainSummary {
        let signals = SignalWatcher()
        let metricsURL = runDir.appendingPathComponent("metrics.jsonl")
        let metrics = try MetricsLog(url: metricsURL, truncateAfter: state.step)
        let tb = try TensorBoardWriter(folder: runDir.appendingPathComponent("tensorboard"))
        let accum = config.gradientAccumulation
        let loader = try BatchLoader(dataset: train, collator: collator, batchSize: config.batchSize, seed: config.seed,
                                     cursor: state.dataCursor, prefetch: 4)
        defer { loader.stop() }
        model.training = true
        let progress = ProgressLine(total: config.steps)
        var lastLoss: Float = .nan
        var lastEval: Double? = nil
        var stopped: Int32? = nil
        let startElapsed = state.elapsed, startTokens = state.tokens
        let t0 = Date()
        let scale = try Tensor([1 / Float(accum)], shape: [1])
        var windowTokens = 0, windowStart = Date()

        log("training \(model.config.numLayers) layers × \(model.config.hiddenSize) hidden (\(model.store.totalCount) parameters) for \(config.steps) steps, batch \(config.batchSize)×\(accum), seq \(config.seqLength)\(config.bf16 ? ", bf16 matmuls" : "")")
        while state.step < config.steps {
            model.store.zeroGrad()
            var lossSum: Float = 0
            var mode = ""
            var stepTokens = 0
            for _ in 0..<accum {
                let b = loader.next()
                let t = try tensors(b)
                let loss = try model.loss(inputIds: t.ids, positionIds: t.pos, mask: .separators(b.seps),
                                          targets: t.targets, lossMask: t.mask)
                try loss.backward(accum == 1 ? nil : scale)
                lossSum += loss.item
                mode = b.mode.rawValue
                stepTokens += b.batchSize * b.seqLength
            }
            state.dataCursor += accum
            let loss = lossSum / Float(accum)
            let gradNorm = config.clipGrad > 0
                ? clipGradNorm(model.store, maxNorm: config.clipGrad)
                : Float(Backend.current.sumOfSquares(model.store.grads.floats, count: model.store.totalCount).squareRoot())
            let lr = schedule.lr(at: state.step + 1)
            if loss.isFinite && gradNorm.isFinite {
                optimizer.update(lr: lr)
            } else {
                log("step \(state.step + 1): non-finite loss or gradient, update skipped")
            }
            state.step += 1
            state.tokens += stepTokens
            state.dropoutOffset = model.rng.offset
            state.elapsed = startElapsed + Date().timeIntervalSince(t0)
            windowTokens += stepTokens
            let windowTime = Date().timeIntervalSince(windowStart)
            let tps = Double(windowTokens) / max(windowTime, 1e-9)
            if windowTime > 10 { windowTokens = 0; windowStart = Date() }
            lastLoss = loss
            metrics.write([("step", state.step), ("loss", loss), ("lr", lr), ("grad_norm", gradNorm),
                           ("tokens_per_s", (tps * 10).rounded() / 10), ("mode", mode), ("tokens", state.tokens),
                           ("elapsed_s", (state.elapsed * 100).rounded() / 100)])
            tb.scalar("train/loss", loss, step: state.step)
            tb.scalar("train/lr", Float(lr), step: state.step)
            tb.scalar("train/grad_norm", gradNorm, step: state.step)
            let overall = Double(state.tokens - startTokens) / max(state.elapsed - startElapsed, 1e-9)
            let eta = Double(config.steps - state.step) * Double(stepTokens) / max(overall, 1e-9)
            progress.update(step: state.step, loss: loss, lr: lr, tokensPerSecond: tps, eta: eta)

            let timeUp = config.timeLimit > 0 && state.elapsed >= config.timeLimit
            stopped = signals.stopRequested
            let last = state.step == config.steps || timeUp || stopped != nil
            if valid != nil, (config.evalEvery > 0 && state.step % config.evalEvery == 0) || last {
                if let e = try evaluate() {
                    lastEval = e
                    metrics.write([("step", state.step), ("eval_loss", e), ("eval_ppl", Foundation.exp(e))])
                    tb.scalar("eval/loss", Float(e), step: state.step)
                    progress.finish()
                    log(String(format: "step %d: held-out Part B loss %.4f (ppl %.1f)", state.step, e, Foundation.exp(e)))
                }
            }
            if (config.saveEvery > 0 && state.step % config.saveEvery == 0) || last {
                try checkpoints.save(model: model, optimizer: optimizer, state: state, tokenizerFiles: tokenizerFiles,
                                     keep: config.keepCheckpoints)
            }
            if timeUp { progress.finish(); log("time limit of \(Int(config.timeLimit)) s reached at step \(state.step)"); break }
            if let s = stopped { progress.finish(); log("signal \(s): stopped after step \(state.step), checkpoint saved"); break }
        }
        progress.finish()
        tb.flush()
        try model.save(to: runDir.appendingPathComponent("model"), tokenizerFiles: tokenizerFiles)
        try writeLossCurve(metricsURL)
        let demo = stopped == nil ? try fillDemo() : []
        let total = Double(state.tokens - startTokens) / max(state.elapsed - startElapsed, 1e-9)
        return TrainSummary(steps: state.step, finalLoss: lastLoss, evalLoss: lastEval, tokensPerSecond: total,
                            stoppedBySignal: stopped, demo: demo)
    }

    func writeLossCurve(_ metricsURL: URL) throws {
        let lines = MetricsLog.read(metricsURL)
        let train = lines.compactMap { o -> (Int, Double)? in
            guard let s = o["step"] as? Int, let l = o["loss"] as? Double else { return nil }
            return (s, l)
        }
        let eval = lines.compactMap { o -> (Int, Double)? in
            guard let s = o["step"] as? Int, let l = o["eval_loss"] as? Double else { return nil }
            return (s, l)
        }
        let svg = LossCurve.svg(train: train, eval: eval, title: "GLM pretraining: \(runDir.lastPathComponent)")
        try AtomicFolder.writeFile(Data(svg.utf8), to: runDir.appendingPathComponent("loss.svg"))
    }

    /// Held-out sentences with one blank each, and the model's greedy fills.
    func fillDemo() throws -> [(masked: String, filled: String)] {
        guard let tok = tokenizer, config.demoSentences > 0, !validText.isEmpty else { return [] }
        let sentences = DemoSentences.pick(from: validText.joined(separator: "\n\n"), count: config.demoSentences,
                                           seed: config.seed)
        let maskString = tok.tokenString(tok.commands.mask) ?? "[MASK]"
        var masks = [tok.commands.mask]
        if let s = tok.commands.sMask { masks.append(s) }
        if let g = tok.commands.gMask { masks.append(g) }
        let filler = BlankFiller(model: model)
        var gen = GenerationConfig()
        gen.greedy = true
        gen.maxNewTokens = 8
        gen.bannedIds = Array(tok.numTokens..<model.config.vocabSize) + [tok.commands.unk]
        model.training = false
        var out: [(String, String)] = []
        for (words, span) in sentences {
            let masked = (words[..<span.lowerBound] + [maskString] + words[span.upperBound...]).joined(separator: " ")
            let ids = tok.encode(masked, addSpecial: true)
            guard ids.count <= model.config.maxSequenceLength else { continue }
            let (ctx, fills) = try filler.fill(context: ids, tokens: BlankFillingTokens(
                sop: tok.commands.sop, eop: tok.commands.eop, eos: tok.commands.eos, masks: masks), config: gen)
            var filled = ""
            var next = 0
            let body = ctx
            for f in fills {
                filled += tok.decode(Array(body[next..<f.maskPosition]).filter { $0 != tok.commands.cls && $0 != tok.commands.eos })
                filled += " [" + tok.decode(f.tokens) + "] "
                next = f.maskPosition + 1
            }
            filled += tok.decode(Array(body[next...]).filter { $0 != tok.commands.cls && $0 != tok.commands.eos })
            out.append((masked, filled.replacingOccurrences(of: "  ", with: " ").trimmingCharacters(in: .whitespaces)))
        }
        return out
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
