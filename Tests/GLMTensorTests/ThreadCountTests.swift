import XCTest
import Foundation
import GLMTensor
import GLMTestSupport

/// The kernels that reduce or draw random numbers across threads must give the same bits for
/// any thread count (resumable training, reproducible runs on other machines). This test
/// computes a digest of their outputs here (all cores) and in a child run of this same test
/// binary with GLM_NUM_THREADS=1, and compares.
final class ThreadCountTests: XCTestCase {
    /// FNV-1a over the bit patterns of everything the kernels wrote.
    static func digest() -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x0000_0100_0000_01B3 }
        func mix(_ a: [Float]) { for x in a { mix(UInt64(x.bitPattern)) } }
        var rng = TestRNG(90)
        // Layer norm backward (row-block partials), shapes that split over threads.
        let rows = 300, cols = 257
        let x = rng.floats(rows * cols), w = rng.floats(cols), dY = rng.floats(rows * cols)
        var y = [Float](repeating: 0, count: rows * cols), m = [Float](repeating: 0, count: rows), s = m
        CPUKernels.layerNormForward(x, weight: w, bias: w, &y, mean: &m, rstd: &s, rows: rows, cols: cols)
        var dX = [Float](repeating: 0, count: rows * cols), dW = [Float](repeating: 0, count: cols), dB = dW
        CPUKernels.layerNormBackward(dY: dY, x, weight: w, mean: m, rstd: s, dX: &dX, dWeight: &dW, dBias: &dB, rows: rows, cols: cols)
        mix(y); mix(dX); mix(dW); mix(dB)
        // Bias gradient, sum of squares, embedding scatter-add.
        var dBias = [Float](repeating: 0, count: cols)
        CPUKernels.biasBackward(dY: dY, dBias: &dBias, n: rows, c: cols)
        mix(dBias)
        let big = rng.floats(500_001)
        mix(CPUKernels.sumOfSquares(big, count: big.count).bitPattern)
        let ids = (0..<600).map { _ in Int32(rng.int(50)) }
        let dOut = rng.floats(600 * 1024)
        var dE = [Float](repeating: 0, count: 50 * 1024)
        CPUKernels.embeddingBackward(ids: ids, count: 600, dOut: dOut, dWeight: &dE, h: 1024)
        mix(dE)
        // Cross-entropy loss sum and gradient.
        let n = 7, V = 30592
        let logits = rng.normals(n * V, std: 2)
        let targets = (0..<n).map { _ in Int32(rng.int(V)) }
        var losses = [Float](repeating: 0, count: n), d = [Float](repeating: 0, count: n * V)
        let (ls, ms) = CPUKernels.crossEntropyForwardBackward(logits: logits, targets: targets, lossMask: [Float](repeating: 1, count: n),
                                                              n: n, V: V, losses: &losses, dLogits: &d, gradScale: 1 / 7)
        mix(ls.bitPattern); mix(ms.bitPattern); mix(losses); mix(d)
        // Random numbers and dropout.
        var u = [Float](repeating: 0, count: 300_001), z = u, dr = u
        CounterRNG.fillUniform(&u, count: u.count, seed: 3, offset: 17)
        CounterRNG.fillNormal(&z, count: z.count, seed: 3, offset: 17)
        CPUKernels.dropoutForward(big, &dr, mask: nil, count: dr.count, p: 0.1, seed: 4, offset: 5)
        mix(u); mix(z); mix(dr)
        return h
    }

    /// Run by the child process: prints the digest for the parent to read.
    func testDigestProbe() {
        print("KERNEL-DIGEST \(Self.digest())")
    }

    func testSameBitsWithOneThread() throws {
        #if os(Linux)
        guard kernelThreadCount > 1 else { throw XCTSkip("one core: nothing to compare") }
        let exe = ProcessInfo.processInfo.arguments[0]
        guard exe.hasSuffix(".xctest"), FileManager.default.isExecutableFile(atPath: exe) else {
            throw XCTSkip("not running from the xctest binary")
        }
        let out = try runProcess(URL(fileURLWithPath: exe), ["GLMTensorTests.ThreadCountTests/testDigestProbe"],
                                 environment: ["GLM_NUM_THREADS": "1"]).out
        guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix("KERNEL-DIGEST ") }),
              let single = UInt64(line.dropFirst("KERNEL-DIGEST ".count)) else {
            return XCTFail("child run printed no digest:\n\(out.suffix(2000))")
        }
        XCTAssertEqual(Self.digest(), single, "results differ between \(kernelThreadCount) threads and 1")
        #else
        throw XCTSkip("the child-process check runs on Linux")
        #endif
    }
}
