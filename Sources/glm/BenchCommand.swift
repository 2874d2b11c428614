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
        """)

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    @Option(name: .long, help: "Comma-separated subset of: gemm, layer, train, decode (default: all).")
    var only: String?

    @Option(name: .long, help: "Timed repetitions per measurement (median is reported).")
    var repeats: Int = 5

    func run() throws {
        let parts = Set((only ?? "gemm,layer,train,decode").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let known: Set<String> = ["gemm", "layer", "train", "decode"]
        if let bad = parts.subtracting(known).first {
            throw ValidationError("unknown benchmark '\(bad)'; choose from \(known.sorted().joined(separator: ", "))")
        }
        guard repeats > 0 else { throw ValidationError("--repeats must be positive") }
        let report = try Benchmarks.run(parts: parts, repeats: repeats) { line in
            if !json { print(line) }
        }
        if json { print(report.json()) }
    }
}
