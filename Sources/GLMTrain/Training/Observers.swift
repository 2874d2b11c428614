import Foundation
import GLM
import GLMData
import GLMNN

/// `metrics.jsonl` (one line per step and per evaluation) and TensorBoard scalars; at the end,
/// `loss.svg`. Evaluation observers report through ``record(step:_:)``.
public final class MetricsObserver: TrainingObserver {
    public let runDir: URL
    let metrics: MetricsLog
    let tensorboard: TensorBoardWriter
    let title: String

    /// Appends to `runDir/metrics.jsonl`, first dropping lines of steps after `resumedAt` (written
    /// by a run that died after its last checkpoint), so a resumed run logs each step once.
    public init(runDir: URL, resumedAt step: Int, title: String) throws {
        self.runDir = runDir
        self.title = title
        metrics = try MetricsLog(url: runDir.appendingPathComponent("metrics.jsonl"), truncateAfter: step)
        tensorboard = try TensorBoardWriter(folder: runDir.appendingPathComponent("tensorboard"))
    }

    public func stepEnded(_ e: StepEvent, loop: TrainingLoop) throws {
        let r = e.result
        metrics.write([("step", e.state.step), ("loss", r.loss), ("lr", r.lr), ("grad_norm", r.gradNorm),
                       ("tokens_per_s", (e.recentTokensPerSecond * 10).rounded() / 10), ("mode", r.label),
                       ("tokens", e.state.tokens), ("elapsed_s", (e.state.elapsed * 100).rounded() / 100)]
                      + (r.commSeconds.map { [("comm_s", ($0 * 10_000).rounded() / 10_000)] } ?? [])
                      + (r.skipped ? [("skipped", "non-finite loss or gradient")] : []))
        tensorboard.scalar("train/loss", r.loss, step: e.state.step)
        tensorboard.scalar("train/lr", Float(r.lr), step: e.state.step)
        tensorboard.scalar("train/grad_norm", r.gradNorm, step: e.state.step)
    }

    /// One evaluation line (`eval_…` keys) and its TensorBoard scalars (`eval/…`).
    public func record(step: Int, _ values: [(String, Double)]) {
        metrics.write([("step", step)] + values.map { ($0.0, $0.1 as Any) })
        for (k, v) in values { tensorboard.scalar(k.replacingOccurrences(of: "eval_", with: "eval/"), Float(v), step: step) }
    }

    public func runEnded(_ loop: TrainingLoop, reason: StopReason) throws {
        tensorboard.flush()
        let lines = MetricsLog.read(metrics.url)
        let train = lines.compactMap { o -> (Int, Double)? in
            guard let s = o["step"] as? Int, let l = o["loss"] as? Double else { return nil }
            return (s, l)
        }
        let eval = lines.compactMap { o -> (Int, Double)? in
            guard let s = o["step"] as? Int, let l = o["eval_loss"] as? Double else { return nil }
            return (s, l)
        }
        let svg = LossCurve.svg(train: train, eval: eval, title: title)
        try AtomicFolder.writeFile(Data(svg.utf8), to: runDir.appendingPathComponent("loss.svg"))
    }
}

/// The progress bar of a run: step, loss, learning rate, tokens/s and time left.
public final class ProgressObserver: TrainingObserver {
    let bar = ProgressBar()
    let total: Int

    public init(totalSteps: Int) { total = totalSteps }

    /// Ends the bar's line so a log line can be printed; the next step redraws it.
    public func interrupt() { bar.finish() }

    public func stepEnded(_ e: StepEvent, loop: TrainingLoop) throws {
        let r = e.result
        let eta = Double(total - e.state.step) * Double(max(r.tokens, 1)) / max(e.tokensPerSecond, 1e-9)
        bar.update(done: e.state.step, total: total,
                   suffix: String(format: "loss %.4f lr %.2e %.0f tok/s ETA %@", r.loss, r.lr, e.recentTokensPerSecond,
                                  ProgressBar.duration(eta)))
    }

    public func runEnded(_ loop: TrainingLoop, reason: StopReason) throws { bar.finish() }
}

/// Checkpoints every `every` steps and at the last step (`checkpoints/step-N`, `latest`), keeping
/// the newest `keep`. In a data-parallel run every rank has one and they save together
/// (``DataParallel/saveCheckpoint(_:model:optimizer:state:tokenizerFiles:keep:)``: rank 0 writes).
public final class CheckpointObserver: TrainingObserver {
    let checkpoints: RunCheckpoints
    let every: Int
    let keep: Int
    let tokenizerFiles: [URL]
    let parallel: DataParallel?
    public private(set) var lastSaved: Int?

    public init(checkpoints: RunCheckpoints, every: Int, keep: Int, tokenizerFiles: [URL], parallel: DataParallel? = nil) {
        self.checkpoints = checkpoints; self.every = every; self.keep = keep; self.tokenizerFiles = tokenizerFiles
        self.parallel = parallel
    }

    public func stepEnded(_ e: StepEvent, loop: TrainingLoop) throws {
        guard (every > 0 && e.state.step % every == 0) || e.isLast else { return }
        try save(loop.model, loop.optimizer, e.state)
    }

    /// Saves `state` now (also used for the final checkpoint of a run stopped between checkpoints).
    public func save(_ model: GLMModel, _ optimizer: AdamW, _ state: TrainerState) throws {
        if let parallel {
            try parallel.saveCheckpoint(checkpoints, model: model, optimizer: optimizer, state: state,
                                        tokenizerFiles: tokenizerFiles, keep: keep)
        } else {
            try checkpoints.save(model: model, optimizer: optimizer, state: state, tokenizerFiles: tokenizerFiles, keep: keep)
        }
        lastSaved = state.step
    }
}

/// Runs `evaluate` every `every` steps and at the last step, recording its values in the
/// metrics (keys as returned, e.g. `eval_loss`) and printing `describe`'s line.
public final class EvaluationObserver: TrainingObserver {
    let every: Int
    let evaluate: (_ step: Int) throws -> [(String, Double)]
    let metrics: MetricsObserver?
    let say: (String) -> Void
    let describe: (_ step: Int, _ values: [(String, Double)]) -> String
    /// The values of the last evaluation.
    public private(set) var last: [(String, Double)] = []

    public init(every: Int, metrics: MetricsObserver?, say: @escaping (String) -> Void,
                describe: @escaping (_ step: Int, _ values: [(String, Double)]) -> String,
                evaluate: @escaping (_ step: Int) throws -> [(String, Double)]) {
        self.every = every; self.metrics = metrics; self.say = say; self.describe = describe; self.evaluate = evaluate
    }

    public func stepEnded(_ e: StepEvent, loop: TrainingLoop) throws {
        guard (every > 0 && e.state.step % every == 0) || e.isLast else { return }
        let values = try evaluate(e.state.step)
        guard !values.isEmpty else { return }
        last = values
        metrics?.record(step: e.state.step, values)
        say(describe(e.state.step, values))
    }
}
