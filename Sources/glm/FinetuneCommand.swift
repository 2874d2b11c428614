import ArgumentParser
import Foundation
import GLMSystem
import GLMDistributed
import GLMTrain

/// `glm finetune`: fine-tune a pretrained model on a task, on the same training loop as pretraining.
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a GLM model on a task (cloze NLU, seq2seq, blank infilling); keep the best dev checkpoint; resume exactly.",
        discussion: """
        Tasks: boolq cb copa multirc record rte wic wsc (the SuperGLUE release's jsonl files), bigbench \
        (a BIG-bench multiple-choice task.json), or a task file (a JSON object with "pattern" and \
        "verbalizer"; see docs/finetune.md). Defaults are the official per-task settings (learning rate, \
        epochs, batch, sequence length, pattern); flags override them.

        seq2seq (--seq2seq-task cnn_dm, cnn_dm_original, xsum (default), gigaword, squad_generation, \
        customization): JSON lines with source and target (answer for squad_generation) or line-aligned \
        .source/.target files (--data: train.source and val.source, else train.jsonl and val.jsonl); the \
        official layout, the loss with label smoothing 0.1, the task's official lr, epochs and lengths \
        (--seq-length is the source length); the dev set is decoded with the task's beam search and \
        scored as glm evaluate --task seq2seq does, and the best ROUGE-1 is kept. blank-infill \
        --mask-ratio R: texts (one per line, or JSON lines with text; --data: train.txt and valid.txt) \
        masked as the official BlankLMDataset masks them; dev scored by BLEU.

        The dev set is scored after every epoch; the best model by the task's first metric is kept as \
        <output>/model (best.json says where it was reached). Ctrl-C finishes the step, saves and exits; \
        --resume continues exactly. metrics.jsonl, TensorBoard events and loss.svg are written to <output>.

        Examples:
          glm finetune --task rte --model runs/glm-base/model --data RTE --output runs/rte
          glm finetune --task copa --model runs/glm-base/model --train COPA/train.jsonl --dev COPA/val.jsonl --epochs 10
          glm finetune --task bigbench --model runs/default/model --train task-train.json --dev task-dev.json
          glm finetune --task seq2seq --seq2seq-task xsum --model runs/glm-base/model --train xsum/train.jsonl --dev xsum/dev.jsonl
          glm finetune --task blank-infill --mask-ratio 0.3 --model runs/glm-base/model --data yahoo --output runs/blank
          glm finetune --output runs/rte --resume
          mpirun -np 4 glm finetune --task rte --model runs/glm-base/model --data RTE --output runs/rte   (MPI build)
        """)

    @Option(name: .long, help: "Task name or task file.") var task: String?
    @Option(name: .long, help: "Pretrained model folder (config.json, weights, tokenizer files).") var model: String?
    @Option(name: .long, help: "Data folder holding train.jsonl and val.jsonl (the SuperGLUE release's layout).") var data: String?
    @Option(name: .long, help: "Training file.") var train: String?
    @Option(name: .long, help: "Dev file, scored after every epoch.") var dev: String?
    @Option(name: .long, help: "Tokenizer folder (default: the model folder).") var tokenizer: String?
    @Option(name: .long, help: "Run folder.") var output: String?
    @Option(name: .long, help: "JSON config file holding any FinetuneConfig keys.") var config: String?
    @Option(name: .long, help: "Epochs (default: the task's official number).") var epochs: Int?
    @Option(name: .long, help: "Examples per micro-batch (default: the task's official batch).") var batchSize: Int?
    @Option(name: .long, help: "Micro-batches per optimizer step.") var gradAccum: Int?
    @Option(name: .long, help: "Peak learning rate.") var lr: Double?
    @Option(name: .long, help: "Warmup as a fraction of all steps.") var warmup: Double?
    @Option(name: .long, help: "AdamW weight decay.") var weightDecay: Double?
    @Option(name: .long, help: "Dropout of embeddings, attention and outputs.") var dropout: Float?
    @Option(name: .long, help: "Sequence length.") var seqLength: Int?
    @Option(name: .long, help: "Pattern id.") var patternId: Int?
    @Option(name: .long, help: "Seed of data order and dropout.") var seed: UInt64?
    @Option(name: .long, help: "Score the dev set every N epochs.") var evalEveryEpochs: Int?
    @Option(name: .long, help: "Sequences per forward pass when scoring.") var evalBatchSize: Int?
    @Option(name: .long, help: "Checkpoint every N steps (default: at each dev evaluation).") var saveEvery: Int?
    @Option(name: .long, help: "Checkpoints to keep.") var keep: Int?
    @Option(name: .long, help: "Stop (saving a checkpoint) after this many seconds.") var timeLimit: Double?
    @Option(name: .long, help: "seq2seq: the official task whose layout and settings apply (default: xsum).") var seq2seqTask: String?
    @Option(name: .long, help: "seq2seq and blank infilling: target length (default: the task's).") var targetLength: Int?
    @Option(name: .long, help: "seq2seq dev decoding: beams (default: the task's).") var numBeams: Int?
    @Option(name: .long, help: "seq2seq dev decoding: length penalty (default: the task's).") var lengthPenalty: Double?
    @Option(name: .long, help: "seq2seq and blank infilling dev decoding: no-repeat n-gram size (default: the task's).") var noRepeatNgram: Int?
    @Option(name: .long, help: "seq2seq dev decoding: fewest tokens before eop (default: the task's).") var minTargetLength: Int?
    @Option(name: .long, help: "seq2seq and blank infilling: label smoothing of the loss (default: 0.1).") var labelSmoothing: Double?
    @Option(name: .long, help: "blank infilling: the fraction of words masked.") var maskRatio: Double?
    @Flag(name: .long, help: "seq2seq: the task-mask layout ([sMASK]).") var taskMask = false
    @Flag(name: .long, help: "bf16 matmuls (f32 master weights).") var bf16 = false
    @Flag(name: .long, help: "Continue the run in --output from its latest checkpoint.") var resume = false
    @OptionGroup var distributed: DistributedOptions

    func run() throws { try distributed.run(finetune) }

    func finetune(_ comm: Communicator) throws {
        let say: (String) -> Void = comm.isRoot ? { glm.say($0) } : { _ in }
        var c = FinetuneConfig()
        if resume {
            let out = URL(fileURLWithPath: output ?? "runs/finetune")
            let file = out.appendingPathComponent("config.json")
            guard let saved = try DistributedOptions.savedConfig(file, comm) else {
                throw ValidationError("--resume: \(out.path) holds no fine-tuning run to resume (no config.json)")
            }
            do { c = try decodeJSON(FinetuneConfig.self, from: saved) } catch {
                throw ValidationError("--resume: \(file.path) is not a fine-tuning run config: \(describeDecodingError(error))")
            }
        }
        if let config { c = try FinetuneConfig.load(URL(fileURLWithPath: config), over: c) }
        if let task { c.task = task }
        if let model { c.model = model }
        if let data {
            let files = FinetuneTaskKind.dataFiles(task: c.task, folder: URL(fileURLWithPath: data))
            c.trainData = files.train
            if let dev = files.dev { c.devData = dev }
        }
        if let train { c.trainData = train }
        if let dev { c.devData = dev }
        if let tokenizer { c.tokenizer = tokenizer }
        if let output { c.output = output }
        if let epochs { c.epochs = epochs }
        if let batchSize { c.batchSize = batchSize }
        if let gradAccum { c.gradientAccumulation = gradAccum }
        if let lr { c.learningRate = lr }
        if let warmup { c.warmup = warmup }
        if let weightDecay { c.weightDecay = weightDecay }
        if let dropout { c.dropout = dropout }
        if let seqLength { c.seqLength = seqLength }
        if let patternId { c.patternId = patternId }
        if let seed { c.seed = seed }
        if let evalEveryEpochs { c.evalEveryEpochs = evalEveryEpochs }
        if let evalBatchSize { c.evalBatchSize = evalBatchSize }
        if let saveEvery { c.saveEvery = saveEvery }
        if let keep { c.keepCheckpoints = keep }
        if let timeLimit { c.timeLimit = timeLimit }
        if let seq2seqTask { c.seq2seqTask = seq2seqTask }
        if let targetLength { c.targetLength = targetLength }
        if let numBeams { c.numBeams = numBeams }
        if let lengthPenalty { c.lengthPenalty = lengthPenalty }
        if let noRepeatNgram { c.noRepeatNgram = noRepeatNgram }
        if let minTargetLength { c.minTargetLength = minTargetLength }
        if let labelSmoothing { c.labelSmoothing = labelSmoothing }
        if let maskRatio { c.maskRatio = maskRatio }
        if taskMask { c.taskMask = true }
        if bf16 { c.bf16 = true }
        c.parallel = distributed.applied(to: c.parallel)
        // Setup waits on the slowest rank's reading: no watchdog limit until training starts.
        let tuner = try comm.unwatched { try Finetuner(config: c, resume: resume, communicator: comm) { say($0) } }
        let s = try tuner.run()
        say(String(format: "done: %d steps (%d epochs), last training loss %.4f", s.steps, s.epochs, s.finalLoss))
        if let b = s.best {
            say(String(format: "best dev %@ %.2f at epoch %d (step %d): %@/model", b.metric.replacingOccurrences(of: "eval_", with: ""),
                       b.value, b.epoch, b.step, tuner.runDir.path))
        } else {
            say("no dev data: the final model is in \(tuner.runDir.path)/model")
        }
    }
}
