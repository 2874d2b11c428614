import Foundation
import XCTest
import GLM
import GLMNN
import GLMTrain

/// `glm pretrain` end to end on a tiny model: exact resume after SIGKILL, clean stop on SIGTERM,
/// and clear errors on bad input before any work starts.
final class PretrainTests: RunTestCase {
    func testKilledRunResumesWithBitIdenticalLosses() throws {
        let cfg = try makeConfig()
        let (_, b) = try assertKilledRunResumesExactly(steps: 12, killAfter: 6,
                                                       command: { ["pretrain", "--config", cfg.path, "--output", $0.path] },
                                                       resume: { ["pretrain", "--output", $0.path, "--resume"] })
        // Only the newest checkpoints are kept.
        let kept = try FileManager.default.contentsOfDirectory(atPath: b.appendingPathComponent("checkpoints").path).sorted()
        XCTAssertEqual(kept, ["step-12", "step-8"])
    }

    func testSIGTERMFinishesTheStepSavesAndExitsZero() throws {
        let cfg = try makeConfig(steps: 400, saveEvery: 1000)
        let run = tmp.appendingPathComponent("t")
        let p = try launch(["pretrain", "--config", cfg.path, "--output", run.path])
        XCTAssertTrue(waitFor(120) { !p.isRunning || ((try? self.losses(run)) ?? [:]).count >= 3 })
        XCTAssertTrue(p.isRunning)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 0)
        let logged = try losses(run)
        let latest = try String(contentsOf: run.appendingPathComponent("latest"), encoding: .utf8)
        XCTAssertEqual(latest.trimmingCharacters(in: .whitespacesAndNewlines), "checkpoints/step-\(logged.keys.max()!)")
        XCTAssertLessThan(logged.count, 400)
    }

    func testBadInputFailsBeforeAnyWork() throws {
        let cfgURL = try makeConfig()
        let base = try TrainConfig.load(cfgURL, over: TrainConfig())
        func expectError(_ c: TrainConfig, resume: Bool = false, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try Trainer(config: c, resume: resume) { _ in }, file: file, line: line) {
                XCTAssertTrue("\($0)".contains(needle), "\($0) lacks \(needle)", file: file, line: line)
            }
        }
        var c = base
        c.output = tmp.appendingPathComponent("x1").path
        c.data = [tmp.appendingPathComponent("missing").path]
        expectError(c, "does not exist")
        XCTAssertFalse(FileManager.default.fileExists(atPath: c.output), "a failed start created the run folder")

        c = base
        c.output = tmp.appendingPathComponent("x2").path
        let empty = tmp.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try Data().write(to: empty.appendingPathComponent("nothing.txt"))
        c.data = [empty.path]
        expectError(c, "no")
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("x2/config.json").path))

        c = base
        let file = tmp.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        c.output = file.appendingPathComponent("run").path
        expectError(c, "run")

        c = base
        c.model!.numAttentionHeads = 5
        expectError(c, "not divisible")

        c = base
        c.seqLength = 65
        expectError(c, "above the model's max_sequence_length")

        // A checkpoint of another shape cannot be resumed into this run.
        c = base
        c.steps = 4
        c.output = tmp.appendingPathComponent("x3").path
        _ = try Trainer(config: c, resume: false) { _ in }.run()
        c.model!.hiddenSize = 64
        expectError(c, resume: true, "different model shape")
        // …and a fresh start does not overwrite it.
        expectError(c, resume: false, "--resume")
    }

    func testConvertMergesAnOfficialModelParallelCheckpointIntoAnHFFolder() throws {
        let fixtures = Self.repo.appendingPathComponent("Tests/GLMNNTests/Fixtures")
        let out = tmp.appendingPathComponent("converted")
        let p = try launch(["convert", "--input", fixtures.appendingPathComponent("official-mp2").path,
                            "--config", fixtures.appendingPathComponent("config.json").path, "--output", out.path])
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let got = try SafeTensors.read(out.appendingPathComponent("model.safetensors"))
        let want = try SafeTensors.read(fixtures.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(Set(got.keys), Set(want.keys))
        for (k, t) in want { XCTAssertEqual(got[k]?.floats(), t.floats(), k) }
        XCTAssertEqual(try GLMConfig.load(out.appendingPathComponent("config.json")),
                       try GLMConfig.load(fixtures.appendingPathComponent("config.json")))
        // A corrupt input is a clear error and a non-zero exit.
        let bad = try launch(["convert", "--input", fixtures.appendingPathComponent("evil.bin").path,
                              "--config", fixtures.appendingPathComponent("config.json").path, "--output", tmp.appendingPathComponent("x").path])
        bad.waitUntilExit()
        XCTAssertNotEqual(bad.terminationStatus, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("x").path))
    }

    func testInitFromContinuesFromAnotherRunsWeights() throws {
        let cfgURL = try makeConfig()
        var c = try TrainConfig.load(cfgURL, over: TrainConfig())
        c.steps = 3
        c.output = tmp.appendingPathComponent("first").path
        _ = try Trainer(config: c, resume: false) { _ in }.run()
        let first = tmp.appendingPathComponent("first/model")
        // Zero steps of training from those weights write them back unchanged.
        c.output = tmp.appendingPathComponent("second").path
        c.initFrom = first.path
        c.steps = 1
        c.learningRate = 1e-12
        c.warmup = 0
        c.weightDecay = 0
        _ = try Trainer(config: c, resume: false) { _ in }.run()
        let a = try SafeTensors.read(first.appendingPathComponent("model.safetensors"))
        let b = try SafeTensors.read(tmp.appendingPathComponent("second/model/model.safetensors"))
        for (k, t) in a {
            let x = t.floats(), y = b[k]!.floats()
            XCTAssertLessThan(zip(x, y).map { abs($0 - $1) }.max()!, 1e-6, k)
        }
        // A checkpoint of another shape is refused before training.
        c.output = tmp.appendingPathComponent("third").path
        c.model!.numLayers = 3
        XCTAssertThrowsError(try Trainer(config: c, resume: false) { _ in }) {
            XCTAssertTrue("\($0)".contains("missing keys"), "\($0)")
        }
    }

    func testAnnealingScheduleMatchesTheOfficialFormulas() {
        let cos = AnnealingLR(peak: 1, warmupSteps: 10, decaySteps: 110, style: .cosine, minRatio: 0.1)
        XCTAssertEqual(cos.lr(at: 5), 0.5, accuracy: 1e-12)
        XCTAssertEqual(cos.lr(at: 10), 1, accuracy: 1e-12)
        XCTAssertEqual(cos.lr(at: 60), 0.1 + 0.9 * 0.5, accuracy: 1e-12)
        XCTAssertEqual(cos.lr(at: 110), 0.1, accuracy: 1e-12)
        XCTAssertEqual(cos.lr(at: 500), 0.1, accuracy: 1e-12)
        let lin = AnnealingLR(peak: 1, warmupSteps: 0, decaySteps: 100, style: .linear, minRatio: 0.5)
        XCTAssertEqual(lin.lr(at: 50), 0.75, accuracy: 1e-12)
        XCTAssertEqual(lin.lr(at: 200), 0, accuracy: 1e-12)   // no clamp, as the official code
    }
}
