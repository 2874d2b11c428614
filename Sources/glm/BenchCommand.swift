import ArgumentParser
import Foundation
import GLMTensor

/// `glm bench`: kernel and model throughput on this machine.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure GEMM rates and GLM layer/training throughput.")

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func run() throws {
        let n = 1024
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n); defer { a.deallocate() }
        let b = UnsafeMutablePointer<Float>.allocate(capacity: n * n); defer { b.deallocate() }
        let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n); defer { c.deallocate() }
        for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
        func once() { GEMM.sgemm(transA: false, transB: false, m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n) }
        once()
        let reps = 20
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<reps { once() }
        let sec = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let gflops = 2.0 * Double(n * n * n) * Double(reps) / sec / 1e9
        if json { print("{\"sgemm_f32_1024_gflops\": \(gflops)}") } else { print("sgemm f32 1024: \(gflops) GFLOP/s") }
    }
}
