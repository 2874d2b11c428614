import Foundation
import GLM
import GLMNN
import GLMTensor

/// One micro-batch, ready to train on: the model's loss for it, and what the logs say about it.
///
/// Under data parallelism it is this process's part of the global micro-batch (see
/// ``BatchPart``): `loss` is the part's share of the global loss, `rows` its place in the global
/// batch, `tokens` the global batch's.
public struct TrainingBatch {
    /// Tokens in the (global) micro-batch, padding included, for throughput.
    public var tokens: Int
    /// A label for the metrics (the collator mode in pretraining, the task in fine-tuning).
    public var label: String
    /// Which rows of the global micro-batch these are (nil: all of them). The step sets the
    /// model's dropout stream to them while `loss` runs, so masks follow the global row.
    public var rows: RowWindow?
    /// The global micro-batch has fewer rows than there are ranks, so some rank's part is empty
    /// (every rank knows this from the global batch): the ranks then align their dropout streams.
    public var someRanksIdle = false
    /// The scalar loss `[1]` of this micro-batch, computed on `model` with autograd on.
    public var loss: (GLMModel) throws -> Tensor

    public init(tokens: Int, label: String, rows: RowWindow? = nil, loss: @escaping (GLMModel) throws -> Tensor) {
        self.tokens = tokens; self.label = label; self.rows = rows; self.loss = loss
    }

    /// A data-parallel rank's empty part of a global micro-batch (fewer rows than ranks): loss 0,
    /// no gradient, no forward pass.
    public static func empty(tokens: Int, label: String) -> TrainingBatch {
        var b = TrainingBatch(tokens: tokens, label: label) { _ in try Tensor([0], shape: [1]) }
        b.someRanksIdle = true
        return b
    }
}

/// Where a run's micro-batches come from: micro-batch `index` (counted over the whole run) is a
/// pure function of the index, so a run resumed at cursor c sees exactly the batches it would have.
///
/// Data-parallel runs split every global micro-batch across the ranks: a source built with a
/// ``BatchPart`` builds global micro-batch `index` (the same on every rank) and returns its
/// part's rows, following the convention documented on ``BatchPart``.
public protocol BatchSource: AnyObject {
    /// The micro-batch at `index` (this process's part of it); called with consecutive indices
    /// from the resume cursor on.
    func batch(_ index: Int) throws -> TrainingBatch
}

/// The settings of the loop itself (the optimizer and schedule are given as objects).
public struct LoopOptions: Sendable {
    /// Stop after this many optimizer steps.
    public var steps: Int
    /// Micro-batches per optimizer step; their gradients are averaged.
    public var gradientAccumulation = 1
    /// Global gradient-norm clipping (0: none).
    public var clipGrad: Float = 1
    /// Stop, saving, after this many seconds of training (0: none). Checked between micro-batches.
    public var timeLimit: Double = 0
    /// A step whose loss or gradient norm is not finite is skipped (no update; it still counts and
    /// consumes its data, and the metrics mark it `skipped`); this many such steps in a row stop
    /// the run with ``TrainError/nonFinite(_:)`` before any observer runs, so nothing is saved or
    /// rotated and the checkpoints written before stay intact.
    public var maxConsecutiveSkippedSteps = 8

    public init(steps: Int) { self.steps = steps }
}

/// What one optimizer step did.
public struct StepResult: Sendable {
    /// Mean loss over the step's micro-batches.
    public var loss: Float
    /// Global gradient norm before clipping.
    public var gradNorm: Float
    public var lr: Double
    public var tokens: Int
    public var label: String
    /// The update was skipped because the loss or the gradient was not finite.
    public var skipped: Bool
    /// Seconds spent in collectives (data-parallel runs only).
    public var commSeconds: Double?
}

/// Why a run ended.
public enum StopReason: Sendable, Equatable {
    case finished
    case timeLimit
    case signal(Int32)
}

/// One optimizer step: forward and backward over the micro-batches (gradients averaged), an
/// optional gradient hook, clipping, the learning rate of the step, and the update, which is
/// skipped when the loss or the gradient norm is not finite. With ``parallel`` set the ranks'
/// gradients and losses are summed first, and clipping and the update are data-parallel
/// (``DataParallel``).
public struct TrainingStep {
    public let model: GLMModel
    public let optimizer: AdamW
    public let schedule: AnnealingLR
    public var clipGrad: Float
    /// Runs after backward (and the data-parallel reduction), before clipping, on the summed gradients.
    public var gradientHook: ((ParameterStore) throws -> Void)?
    /// Data-parallel training (nil: this process trains alone).
    public var parallel: DataParallel?

    public init(model: GLMModel, optimizer: AdamW, schedule: AnnealingLR, clipGrad: Float) {
        self.model = model; self.optimizer = optimizer; self.schedule = schedule; self.clipGrad = clipGrad
    }

    /// Trains step `step` (1-based) on `batches`; `shouldStop` is asked between micro-batches and
    /// a true answer abandons the step before its update (returns nil: nothing changed but the
    /// gradients, so a checkpoint of the previous step resumes exactly). Data-parallel ranks
    /// abandon a step together: between micro-batches (after the first, the loop having agreed
    /// just before it) they agree on whether any of them was asked to stop, one collective of one
    /// number per micro-batch, so a step of a million micro-batches still stops within seconds.
    public func run(step: Int, batches: [() throws -> TrainingBatch], shouldStop: () -> Bool = { false }) throws -> StepResult? {
        model.store.zeroGrad()
        let n = batches.count
        let scale = try Tensor([1 / Float(n)], shape: [1])
        var lossSum: Float = 0, tokens = 0, label = ""
        for (i, next) in batches.enumerated() {
            if let parallel {
                if i > 0, try parallel.agreeToStop(shouldStop()) { return nil }
            } else if shouldStop() { return nil }
            let b = try next()
            model.rng.rows = b.rows
            defer { model.rng.rows = nil }
            let loss = try b.loss(model)
            if loss.requiresGrad { try loss.backward(n == 1 ? nil : scale) }   // an empty part has no graph
            if let parallel, b.someRanksIdle { try parallel.syncDropout(model.rng) }
            lossSum += loss.item
            tokens += b.tokens
            label = b.label
        }
        let gradNorm: Float
        if let parallel {
            try parallel.reduceGradients(model.store)
            lossSum = try parallel.sumLoss(lossSum)
            try gradientHook?(model.store)
            gradNorm = try parallel.clip(model.store, maxNorm: clipGrad)
        } else {
            try gradientHook?(model.store)
            gradNorm = clipGrad > 0 ? clipGradNorm(model.store, maxNorm: clipGrad) : Float(Ops.norm(model.store.grads))
        }
        let loss = lossSum / Float(n)
        // The official scheduler steps after the update: update k runs with the rate of t = k − 1.
        let lr = schedule.lr(at: step - 1)
        let skip = !(loss.isFinite && gradNorm.isFinite)
        if !skip {
            if let parallel { try parallel.update(optimizer, store: model.store, lr: lr) } else { optimizer.update(lr: lr) }
        }
        return StepResult(loss: loss, gradNorm: gradNorm, lr: lr, tokens: tokens, label: label, skipped: skip,
                          commSeconds: parallel?.takeCommSeconds())
    }
}

/// What observers see after each step.
public struct StepEvent {
    public var result: StepResult
    /// The run's state after the step (step count, data cursor, tokens, time).
    public var state: TrainerState
    /// Tokens per second over the last ~10 s, and over this process's part of the run.
    public var recentTokensPerSecond: Double
    public var tokensPerSecond: Double
    /// The loop will stop after this step (last step, time limit or signal).
    public var isLast: Bool
}

/// Something that watches a run: metrics, progress, evaluation, checkpoints. Observers run in
/// the order given, after every step, on the training thread.
public protocol TrainingObserver: AnyObject {
    func runStarted(_ loop: TrainingLoop) throws
    func stepEnded(_ event: StepEvent, loop: TrainingLoop) throws
    /// After the last step (also after a stop without any new step).
    func runEnded(_ loop: TrainingLoop, reason: StopReason) throws
}

extension TrainingObserver {
    public func runStarted(_ loop: TrainingLoop) throws {}
    public func stepEnded(_ event: StepEvent, loop: TrainingLoop) throws {}
    public func runEnded(_ loop: TrainingLoop, reason: StopReason) throws {}
}

/// The one training loop of swift-glm, for pretraining and fine-tuning alike: it pulls
/// micro-batches from a ``BatchSource``, runs ``TrainingStep``, keeps the ``TrainerState`` that
/// makes resume exact, honours SIGINT/SIGTERM and the time limit between micro-batches (a step is
/// abandoned, and the last complete one saved), and tells its observers.
public final class TrainingLoop {
    public let model: GLMModel
    public let optimizer: AdamW
    public let source: BatchSource
    public let options: LoopOptions
    public private(set) var step: TrainingStep
    public private(set) var state: TrainerState
    public let observers: [TrainingObserver]
    /// The last step's result, if any ran.
    public private(set) var last: StepResult?
    let signals: SignalWatcher?

    /// `watchSignals` turns SIGINT/SIGTERM (and SIGUSR1) into a clean stop (a library user
    /// embedding the loop may prefer to handle signals itself). Data-parallel loops (`parallel`)
    /// stop cleanly on SIGUSR1 only, which mpirun forwards to every rank: the ranks agree between
    /// micro-batches and after each step on whether any of them was asked to stop. (mpirun answers
    /// SIGINT/SIGTERM by terminating every rank within seconds, too soon for a checkpoint.)
    public init(model: GLMModel, optimizer: AdamW, schedule: AnnealingLR, state: TrainerState, options: LoopOptions,
                source: BatchSource, observers: [TrainingObserver], watchSignals: Bool = true,
                gradientHook: ((ParameterStore) throws -> Void)? = nil, parallel: DataParallel? = nil) {
        self.model = model
        self.optimizer = optimizer
        self.source = source
        self.options = options
        self.state = state
        self.observers = observers
        var s = TrainingStep(model: model, optimizer: optimizer, schedule: schedule, clipGrad: options.clipGrad)
        s.gradientHook = gradientHook
        s.parallel = parallel
        step = s
        signals = watchSignals ? SignalWatcher(signals: parallel == nil ? [SIGINT, SIGTERM, SIGUSR1] : [SIGUSR1]) : nil
    }

    /// Runs until `options.steps`, a stop signal or the time limit.
    public func run() throws -> StopReason {
        model.training = true
        defer { model.training = false }
        for o in observers { try o.runStarted(self) }
        let startElapsed = state.elapsed, startTokens = state.tokens
        let t0 = Date()
        var windowTokens = 0, windowStart = Date()
        var reason = StopReason.finished
        var skippedRun = 0
        func stopReason() -> StopReason? {
            if let s = signals?.stopRequested { return .signal(s) }
            if options.timeLimit > 0 && startElapsed + Date().timeIntervalSince(t0) >= options.timeLimit { return .timeLimit }
            return nil
        }
        while state.step < options.steps {
            let accum = options.gradientAccumulation
            let cursor = state.dataCursor
            let batches = (0..<accum).map { i in { [source] in try source.batch(cursor + i) } }
            guard let result = try step.run(step: state.step + 1, batches: batches, shouldStop: { stopReason() != nil }) else {
                // Every rank abandoned the step together; they agree on why (for the logs).
                let agreed = try step.parallel.map { try $0.agree(on: stopReason()) } ?? stopReason()
                reason = agreed ?? .finished
                break
            }
            state.step += 1
            skippedRun = result.skipped ? skippedRun + 1 : 0
            if skippedRun >= options.maxConsecutiveSkippedSteps {
                let first = state.step - skippedRun + 1
                throw TrainError.nonFinite("the loss or gradient norm was not finite for \(skippedRun) steps in a row (steps \(first)–\(state.step); last loss \(result.loss), gradient norm \(result.gradNorm)): the run stopped without saving, so the checkpoints written before are intact. Resume from the last one with --resume (a lower --lr or more warmup may help)")
            }
            state.dataCursor += accum
            state.tokens += result.tokens
            state.elapsed = startElapsed + Date().timeIntervalSince(t0)
            last = result
            windowTokens += result.tokens
            let windowTime = Date().timeIntervalSince(windowStart)
            let recent = Double(windowTokens) / max(windowTime, 1e-9)
            if windowTime > 10 { windowTokens = 0; windowStart = Date() }
            let stop = try step.parallel.map { try $0.agree(on: stopReason()) } ?? stopReason()
            state.dropoutOffset = model.rng.offset
            let event = StepEvent(result: result, state: state, recentTokensPerSecond: recent,
                                  tokensPerSecond: Double(state.tokens - startTokens) / max(state.elapsed - startElapsed, 1e-9),
                                  isLast: state.step == options.steps || stop != nil)
            model.training = false
            for o in observers { try o.stepEnded(event, loop: self) }
            model.training = true
            if let stop { reason = stop; break }
        }
        model.training = false
        for o in observers { try o.runEnded(self, reason: reason) }
        return reason
    }
}
