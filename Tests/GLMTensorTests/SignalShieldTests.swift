import Foundation
import Synchronization
import XCTest
import GLMTensor

private let handledSignals = Atomic<Int>(0)

/// oneDNN 2.x's JIT f32 GEMM points the stack pointer into a heap workspace while it runs: a
/// signal handled on a thread inside it wrote its frame over the heap, and a later `free`
/// aborted ("corrupted size vs. prev_size"). A training run stopped with SIGINT/SIGUSR1 died that
/// way now and then. These GEMMs run under a steady rain of handled signals — aimed at the
/// calling thread and at the whole process (so OpenMP's workers get theirs) — and must give the
/// reference's numbers, with the heap intact and every signal still handled.
final class SignalShieldTests: XCTestCase {
    func testGEMMsUnderSignalsKeepTheHeapAndTheirResults() throws {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in handledSignals.add(1, ordering: .relaxed) }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        var old = sigaction()
        sigaction(SIGUSR2, &action, &old)
        defer { sigaction(SIGUSR2, &old, nil) }
        handledSignals.store(0, ordering: .relaxed)

        let target = pthread_self()
        let stop = Atomic<Bool>(false)
        let sender = Thread {
            var i = 0
            while !stop.load(ordering: .relaxed) {
                if i % 2 == 0 { pthread_kill(target, SIGUSR2) } else { kill(getpid(), SIGUSR2) }
                i += 1
                usleep(20)
            }
        }
        sender.start()

        var rng = SystemRandomNumberGenerator()
        let shapes = [(96, 128, 384, false, false), (128, 96, 384, true, false), (64, 200, 160, false, true), (200, 64, 96, true, true)]
        let deadline = Date().addingTimeInterval(2)
        var rounds = 0
        while Date() < deadline {
            for (m, n, k, ta, tb) in shapes {
                let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
                let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
                var c = [Float](repeating: 0, count: m * n)
                let lda = ta ? m : k, ldb = tb ? k : n
                GEMM.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: &c, ldc: n)
                // Spot-check a few entries against the naive product.
                for (i, j) in [(0, 0), (m - 1, n - 1), (m / 2, n / 3)] {
                    var s = 0.0
                    for p in 0..<k {
                        let x = ta ? a[p * lda + i] : a[i * lda + p]
                        let y = tb ? b[j * ldb + p] : b[p * ldb + j]
                        s += Double(x) * Double(y)
                    }
                    XCTAssertEqual(Double(c[i * n + j]), s, accuracy: 1e-3, "\(m)x\(n)x\(k) ta=\(ta) tb=\(tb) at [\(i), \(j)]")
                }
            }
            rounds += 1
        }
        stop.store(true, ordering: .relaxed)
        while !sender.isFinished { usleep(1000) }
        // Counts that hold on a busy machine too: the point is that signals landed during GEMMs.
        XCTAssertGreaterThan(rounds, 2)
        XCTAssertGreaterThan(handledSignals.load(ordering: .relaxed), 100, "the signals were not delivered")
        // A heap the signal frames had written over fails here, if not already in the loop.
        for _ in 0..<1000 { let p = malloc(Int.random(in: 1...65536)); free(p) }
    }
}
