import ArgumentParser
import Foundation
import GLM
import GLMServe
import GLMTokenizers
import GLMTrain

/// `glm bench`: kernel and model throughput on this machine.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure GEMM rates, one GLM layer forward+backward (MFU), GLM training/decoding throughput and glm serve's.",
        discussion: """
        Examples:
          glm bench                 # the table
          glm bench --json          # one JSON object (keys: sgemm_f32_1024_gflops, matmul_bf16_1024_gflops, layer_fwd_bwd_mfu, ...)
          glm bench --only gemm,layer
          glm bench --only seq2seq --json   # seq2seq_eval_glm_base_examples_per_s: beam-4 evaluation decoding
          glm bench --only serve --serve-seconds 60   # serve_glm_base_16_clients_tokens_per_s
        """)

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    @Option(name: .long, help: "Comma-separated subset of: gemm, layer, train, decode, seq2seq, finetune, data, serve (default: all).")
    var only: String?

    @Option(name: .long, help: "Model preset for the train and decode measurements.")
    var model: String = "glm-base"

    @Option(name: .long, help: "Batch size of the train measurement.")
    var batch: Int = 4

    @Option(name: .long, help: "Sequence length of the train measurement.")
    var seq: Int = 512

    @Option(name: .long, help: "Timed repetitions per measurement (median is reported).")
    var repeats: Int = 5

    @Option(name: .long, help: "Seconds of load per client count in the serve measurement (1 and 16 clients, after a 2 s warm-up each).")
    var serveSeconds: Double = 20

    func run() async throws {
        let parts = Set((only ?? "gemm,layer,train,decode,seq2seq,finetune,data,serve").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let known: Set<String> = ["gemm", "layer", "train", "decode", "seq2seq", "finetune", "data", "serve"]
        if let bad = parts.subtracting(known).first {
            throw ValidationError("unknown benchmark '\(bad)'; choose from \(known.sorted().joined(separator: ", "))")
        }
        guard repeats > 0 else { throw ValidationError("--repeats must be positive") }
        guard serveSeconds > 0 else { throw ValidationError("--serve-seconds must be positive") }
        guard batch > 0, seq > 0 else { throw ValidationError("--batch and --seq must be positive") }
        var shapes = Benchmarks.Shapes()
        shapes.model = model
        shapes.batch = batch
        shapes.seq = seq
        // With --json the table goes to stderr and stdout holds the one JSON object.
        let show: @Sendable (String) -> Void = { [json] line in
            if json { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
        }
        var report = try Benchmarks.run(parts: parts.subtracting(["serve"]), repeats: repeats, shapes: shapes) { line in
            show(line)
        }
        if parts.contains("serve") {
            // A random model of the preset's shape with the bundled BERT vocabulary (GLM-Base's).
            guard let config = GLMConfig.presets[model] else { throw ValidationError("unknown model preset '\(model)'") }
            guard let root = TrainConfig.bundledResourcesRoot() else {
                throw ValidationError("the serve measurement needs the bundled vocabulary (Resources/tokenizers/bert-base-uncased); run from the repository")
            }
            let tokenizer = try GLMTokenizer(folder: root.appendingPathComponent("Resources/tokenizers/bert-base-uncased"))
            let results = try await ServeBenchmark.run(config: config, tokenizer: tokenizer, clients: [1, 16], seconds: serveSeconds) { line in
                show(line)
            }
            let tag = model.replacingOccurrences(of: "-", with: "_")
            for r in results {
                report.set("serve_\(tag)_\(r.clients)_client\(r.clients == 1 ? "" : "s")_tokens_per_s", r.tokens_per_s)
            }
        }
        if json { print(report.json()) }
    }
}
