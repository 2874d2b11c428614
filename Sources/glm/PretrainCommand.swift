import ArgumentParser
import Foundation
import GLMDistributed
import GLMSystem
import GLMTrain

/// `glm pretrain`: the main job.
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pretrain GLM with autoregressive blank infilling; resume exactly; end by filling blanks.",
        discussion: """
        With no arguments: a small GLM (4 layers, 256 hidden) on the bundled public-domain corpus
        (Resources/corpus/train, Persuasion held out) with the BERT vocab, about 9 minutes on 2 cores,
        ending with held-out sentences whose blanks the model fills.

        Settings come from --preset (tiny, small, glm-base, glm-large), then --config FILE (JSON with
        any TrainConfig keys), then flags. The resolved config is saved as <output>/config.json;
        --resume reads it back, so only --output is needed to continue a run.

        Examples:
          glm pretrain
          glm pretrain --data corpus/ --tokenizer models/bert-base-uncased --validation-data heldout.txt --output runs/mine
          glm prepare --input corpus/ --tokenizer models/bert --output data/corpus
          glm pretrain --preset glm-base --data data/corpus --steps 20000 --bf16 --output runs/base
          glm pretrain --output runs/base --resume

        Data-parallel over MPI (a build with --traits MPI; see docs/distributed.md): every rank
        trains its rows of each --batch-size batch and rank 0 writes the run folder.
          mpirun -np 4 glm pretrain --preset glm-base --data data/corpus --output runs/base
          mpirun -np 16 --hostfile hosts glm pretrain --config run.json --zero 1
          kill -USR1 <mpirun pid>      (stop cleanly after the current step, with a checkpoint)
        """)

    @Option(name: .long, help: "Run preset: tiny, small, glm-base, glm-large.") var preset: String?
    @Option(name: .long, help: "JSON config file holding any TrainConfig keys.") var config: String?
    @Option(name: .long, parsing: .upToNextOption, help: "Shard folder (glm prepare) or text files/folders.") var data: [String] = []
    @Option(name: .long, parsing: .upToNextOption, help: "Held-out text files/folders or shard folder.") var validationData: [String] = []
    @Option(name: .long, help: "Tokenizer folder (for text data).") var tokenizer: String?
    @Option(name: .long, help: "Model shape preset (glm-tiny, glm-small, glm-base, glm-large, …).") var model: String?
    @Option(name: .long, help: "Objective: token, sentence, document, or a model's mix (glm-base, glm-doc, glm-10b, …).") var objective: String?
    @Option(name: .long, help: "Optimizer steps.") var steps: Int?
    @Option(name: .long, help: "Sequences per micro-batch.") var batchSize: Int?
    @Option(name: .long, help: "Micro-batches per optimizer step.") var gradAccum: Int?
    @Option(name: .long, help: "Tokens per packed sample.") var seqLength: Int?
    @Option(name: .long, help: "Peak learning rate.") var lr: Double?
    @Option(name: .long, help: "Checkpoint every N steps (and at the end).") var saveEvery: Int?
    @Option(name: .long, help: "Evaluate on held-out data every N steps (and at the end).") var evalEvery: Int?
    @Option(name: .long, help: "Checkpoints to keep.") var keep: Int?
    @Option(name: .long, help: "Run folder.") var output: String?
    @Option(name: .long, help: "Seed of initialisation, data order and dropout.") var seed: UInt64?
    @Option(name: .long, help: "Stop (saving a checkpoint) after this many seconds.") var timeLimit: Double?
    @Option(name: .long, help: "Initialise from a checkpoint (HF folder, official .pt folder, safetensors/bin).") var initFrom: String?
    @Flag(name: .long, help: "Continue the run in --output from its latest checkpoint.") var resume = false
    @Flag(name: .long, help: "bf16 matmuls (f32 master weights and accumulation).") var bf16 = false
    @OptionGroup var distributed: DistributedOptions

    func run() throws { try distributed.run(train) }

    func train(_ comm: Communicator) throws {
        var c: TrainConfig
        let outputDir = output ?? (preset == nil && config == nil && data.isEmpty ? "runs/default" : nil)
        let embedded = !resume && preset == nil && config == nil && data.isEmpty
        if resume {
            // Rank 0 reads the run's config and hands it to every rank (they need no copy of the run folder).
            let out = URL(fileURLWithPath: outputDir ?? "runs/default")
            let file = out.appendingPathComponent("config.json")
            guard let saved = try DistributedOptions.savedConfig(file, comm) else {
                throw ValidationError("--resume: \(out.path) holds no run to resume (no config.json)")
            }
            do { c = try decodeJSON(TrainConfig.self, from: saved) } catch {
                throw ValidationError("--resume: \(file.path) is not a valid run config: \(describeDecodingError(error))")
            }
        } else if embedded {
            c = try TrainConfig.embeddedDefault()
        } else {
            c = try TrainConfig.preset(preset ?? "small")
        }
        if let config { c = try TrainConfig.load(URL(fileURLWithPath: config), over: c) }
        if !data.isEmpty { c.data = data }
        if !validationData.isEmpty { c.validationData = validationData }
        if let tokenizer { c.tokenizer = tokenizer }
        if let model { c.modelPreset = model; c.model = nil }
        if let objective { c.objective = objective }
        if let steps { c.steps = steps }
        if let batchSize { c.batchSize = batchSize }
        if let gradAccum { c.gradientAccumulation = gradAccum }
        if let seqLength { c.seqLength = seqLength }
        if let lr { c.learningRate = lr }
        if let saveEvery { c.saveEvery = saveEvery }
        if let evalEvery { c.evalEvery = evalEvery }
        if let keep { c.keepCheckpoints = keep }
        if let outputDir { c.output = outputDir }
        if let seed { c.seed = seed }
        if let timeLimit { c.timeLimit = timeLimit }
        if let initFrom { c.initFrom = initFrom }
        if bf16 { c.bf16 = true }
        c.parallel = distributed.applied(to: c.parallel)
        let say: (String) -> Void = comm.isRoot ? { glm.say($0) } : { _ in }
        if !resume, let root = c.useBundledCorpusIfNoData() {
            say("using the bundled corpus in \(root.path)/Resources/corpus (train: 54 works, held out: Persuasion)")
        } else if embedded {
            say("using the bundled corpus (train: 54 works, held out: Persuasion)")
        }
        // Setup waits on rank 0 (data preparation, loading): no watchdog limit until training starts.
        let trainer = try comm.unwatched { try Trainer(config: c, resume: resume, communicator: comm) { say($0) } }
        let summary = try trainer.run()
        say(String(format: "done: %d steps, last training loss %.4f, %.0f tokens/s", summary.steps, summary.finalLoss, summary.tokensPerSecond))
        if let e = summary.evalLoss {
            say(String(format: "held-out Part B loss %.4f nats (perplexity %.1f)", e, Foundation.exp(e)))
        }
        say("model: \(trainer.runDir.path)/model   metrics: \(trainer.runDir.path)/metrics.jsonl   curve: \(trainer.runDir.path)/loss.svg")
        if !summary.demo.isEmpty {
            say("\nHeld-out sentences, blanks filled by the model:")
            for d in summary.demo {
                say("  \(d.masked)\n    → \(d.filled)")
            }
        }
    }
}

/// Writes a line to stdout unbuffered, so a long run's log file shows each line as it happens.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
