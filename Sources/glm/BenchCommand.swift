import ArgumentParser
import Foundation
import GLMTrain

/// `glm bench`: kernel and model throughput on this machine.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure GEMM rates, one GLM layer forward+backward (MFU) and GLM training/decoding throughput.",
        discussion: """
        Examples:
          glm bench                 # the table
          glm bench --json          # one JSON object (keys: sgemm_f32_1024_gflops, matmul_bf16_1024_gflops, layer_fwd_bwd_mfu, ...)
          glm bench --only gemm,layer
          glm bench --only seq2seq --json   # seq2seq_eval_glm_base_examples_per_s: beam-4 evaluation decoding
        """)

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    @Option(name: .long, help: "Comma-separated subset of: gemm, layer, train, decode, seq2seq, data (default: all).")
    var only: String?

    @Option(name: .long, help: "Model preset for the train and decode measurements.")
    var model: String = "glm-base"

    @Option(name: .long, help: "Batch size of the train measurement.")
    var batch: Int = 4

    @Option(name: .long, help: "Sequence length of the train measurement.")
    var seq: Int = 512

    @Option(name: .long, help: "Timed repetitions per measurement (median is reported).")
    var repeats: Int = 5

    func run() throws {
        let parts = Set((only ?? "gemm,layer,train,decode,seq2seq,data").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let known: Set<String> = ["gemm", "layer", "train", "decode", "seq2seq", "data"]
        if let bad = parts.subtracting(known).first {
            throw ValidationError("unknown benchmark '\(bad)'; choose from \(known.sorted().joined(separator: ", "))")
        }
        guard repeats > 0 else { throw ValidationError("--repeats must be positive") }
        guard batch > 0, seq > 0 else { throw ValidationError("--batch and --seq must be positive") }
        var shapes = Benchmarks.Shapes()
        shapes.model = model
        shapes.batch = batch
        shapes.seq = seq
        let report = try Benchmarks.run(parts: parts, repeats: repeats, shapes: shapes) { line in
            if !json { print(line) }
        }
        if json { print(report.json()) }
    }
}
