import Foundation
import XCTest
import GLM
import GLMNN
import GLMSystem
import GLMTensor
import GLMTrain

/// Issue 12, the training classes: corrupt checkpoints (5), two runs in one folder (6), stops within
/// a huge step (9) and numbers in a run's own files (4). Every broken input is made here.
final class HostileRunTests: RunTestCase {
    // MARK: - Class 5: checkpoints

    /// A tiny model, its optimizer, and a run folder with checkpoints step-2, step-4, step-6 (keep 3).
    func makeRun(_ name: String = "run") throws -> (RunCheckpoints, GLMModel, AdamW) {
        let model = try GLMModel(config: GLMConfig(numLayers: 1, hiddenSize: 16, numAttentionHeads: 2, vocabSize: 64,
                                                   maxSequenceLength: 16), seed: 7)
        let opt = AdamW(store: model.store)
        let run = RunCheckpoints(runDir: tmp.appendingPathComponent(name))
        for step in [2, 4, 6] {
            for i in 0..<model.store.totalCount { model.store.grads.floats[i] = Float(i % 7) * 1e-3 }
            opt.update(lr: 1e-2)
            try run.save(model: model, optimizer: opt, state: Self.state(step), tokenizerFiles: [], keep: 3)
        }
        return (run, model, opt)
    }

    static func state(_ step: Int) -> TrainerState {
        TrainerState(step: step, dataCursor: step, dropoutSeed: 1, dropoutOffset: UInt64(step), tokens: step * 100, elapsed: Double(step))
    }

    func restore(_ run: RunCheckpoints) throws -> (step: Int?, log: [String]) {
        let model = try GLMModel(config: GLMConfig(numLayers: 1, hiddenSize: 16, numAttentionHeads: 2, vocabSize: 64,
                                                   maxSequenceLength: 16), seed: 99)
        var log: [String] = []
        let r = try run.restoreNewestIntact(model: model, optimizer: AdamW(store: model.store)) { log.append($0) }
        return (r?.state.step, log)
    }

    func flipByte(_ url: URL, at offsetFromEnd: Int) throws {
        var d = try Data(contentsOf: url)
        d[d.count - offsetFromEnd] ^= 0x5A
        try d.write(to: url)
    }

    func testEveryCheckpointCarriesChecksumsWrittenLast() throws {
        let (run, _, _) = try makeRun()
        let dir = run.folder.appendingPathComponent("step-6")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("checksums.json"))) as! [String: Any]
        XCTAssertEqual(manifest["algorithm"] as? String, "crc32c")
        let files = manifest["files"] as! [String: [String: Any]]
        XCTAssertEqual(Set(files.keys), ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"])
        let weights = dir.appendingPathComponent("model.safetensors")
        XCTAssertEqual(files["model.safetensors"]?["crc32c"] as? String, GLMSystem.CRC32C.hex(try GLMSystem.CRC32C.checksum(file: weights)))
        XCTAssertEqual(files["model.safetensors"]?["bytes"] as? Int, try Data(contentsOf: weights).count)
        XCTAssertTrue(try CheckpointIntegrity.verify(dir))
        XCTAssertEqual(try restore(run).step, 6)
    }

    func testCorruptLatestFallsBackToTheNewestIntactCheckpoint() throws {
        // A flipped byte in the weights of latest (step-6): step-4 resumes, the log names the file.
        var (run, _, _) = try makeRun("flip")
        try flipByte(run.folder.appendingPathComponent("step-6/model.safetensors"), at: 10)
        var r = try restore(run)
        XCTAssertEqual(r.step, 4)
        let text = r.log.joined(separator: "\n")
        XCTAssertTrue(text.contains("step-6/model.safetensors is corrupt: CRC-32C"), text)
        XCTAssertTrue(text.contains("resuming from the newest intact checkpoint, checkpoints/step-4 (step 4)"), text)
        // The broken one is kept aside, out of rotation; latest now names step-4.
        XCTAssertEqual(try run.latest()?.lastPathComponent, "step-4")
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.folder.appendingPathComponent("step-6.corrupt").path))

        // A truncated optimizer file, and a flipped byte in a moment.
        (run, _, _) = try makeRun("truncate")
        let opt = run.folder.appendingPathComponent("step-6/optimizer.safetensors")
        try Data(try Data(contentsOf: opt).prefix(100)).write(to: opt)
        try flipByte(run.folder.appendingPathComponent("step-4/optimizer.safetensors"), at: 3)
        r = try restore(run)
        XCTAssertEqual(r.step, 2)
        XCTAssertTrue(r.log.joined().contains("optimizer.safetensors has 100 bytes"), "\(r.log)")
        XCTAssertTrue(r.log.joined().contains("step-4/optimizer.safetensors is corrupt"), "\(r.log)")

        // A missing file.
        (run, _, _) = try makeRun("missing")
        try FileManager.default.removeItem(at: run.folder.appendingPathComponent("step-6/trainer_state.json"))
        r = try restore(run)
        XCTAssertEqual(r.step, 4)
        XCTAssertTrue(r.log.joined().contains("not a complete checkpoint"), "\(r.log)")
    }

    func testGarbageOrIncompleteLatestPointerFallsBack() throws {
        for (name, content) in [("garbage", Data([0, 0xFF, 0x13, 0x37] + Array(repeating: 0x41, count: 9000))),
                                ("outside", Data("../../etc\n".utf8)), ("dangling", Data("checkpoints/step-99\n".utf8)),
                                ("empty", Data())] {
            let (run, _, _) = try makeRun(name)
            try content.write(to: run.latestPointer)
            let r = try restore(run)
            XCTAssertEqual(r.step, 6, name)
            XCTAssertTrue(r.log.first?.hasPrefix("latest: checkpoint: \(run.latestPointer.path)") ?? false, "\(name): \(r.log)")
            XCTAssertEqual(try run.latest()?.lastPathComponent, "step-6", name)
        }
        // Without a latest at all (killed between the folder and the pointer): the newest folder.
        let (run, _, _) = try makeRun("nopointer")
        try FileManager.default.removeItem(at: run.latestPointer)
        XCTAssertEqual(try restore(run).step, 6)
        XCTAssertTrue(run.hasCheckpoints, "a fresh run must not start over these")
    }

    func testNonFiniteOrOutOfRangeValuesAreRefusedEvenWithValidChecksums() throws {
        // NaN weights written with a valid manifest (as a buggy writer would): refused by name.
        var (run, _, _) = try makeRun("nan")
        let dir6 = run.folder.appendingPathComponent("step-6")
        var w = try SafeTensors.read(dir6.appendingPathComponent("model.safetensors"))
        let key = w.keys.sorted()[0]
        var values = w[key]!.floats()
        values[3] = .nan
        w[key] = TensorData(dtype: .f32, shape: w[key]!.shape, floats: values)
        try SafeTensors.write(w, to: dir6.appendingPathComponent("model.safetensors"))
        try CheckpointIntegrity.writeManifest(in: dir6)
        var r = try restore(run)
        XCTAssertEqual(r.step, 4)
        XCTAssertTrue(r.log.joined().contains("\(key)[3] is nan"), "\(r.log)")

        // Infinite and negative second moments.
        (run, _, _) = try makeRun("moments")
        for (step, value) in [(6, Float.infinity), (4, Float(-1))] {
            let dir = run.folder.appendingPathComponent("step-\(step)")
            var o = try SafeTensors.read(dir.appendingPathComponent("optimizer.safetensors"))
            var v = o["exp_avg_sq"]!.floats()
            v[1] = value
            o["exp_avg_sq"] = TensorData(dtype: .f32, shape: o["exp_avg_sq"]!.shape, floats: v)
            try SafeTensors.write(o, to: dir.appendingPathComponent("optimizer.safetensors"))
            try CheckpointIntegrity.writeManifest(in: dir)
        }
        r = try restore(run)
        XCTAssertEqual(r.step, 2)
        XCTAssertTrue(r.log.joined().contains("exp_avg_sq[1] is inf"), "\(r.log)")
        XCTAssertTrue(r.log.joined().contains("exp_avg_sq[1] is -1"), "\(r.log)")

        // trainer_state.json numbers near 2^62 and negative, named by field.
        for (field, value) in [("step", "4611686018427387904"), ("dataCursor", "-5"), ("tokens", "4611686018427387903"),
                               ("elapsed", "-1"), ("step", "2.5")] {
            (run, _, _) = try makeRun("state-\(field)-\(value)")
            let dir = run.folder.appendingPathComponent("step-6")
            let url = dir.appendingPathComponent("trainer_state.json")
            var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            obj[field] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
            try JSONSerialization.data(withJSONObject: obj).write(to: url)
            try CheckpointIntegrity.writeManifest(in: dir)
            r = try restore(run)
            XCTAssertEqual(r.step, 4, "\(field) \(value)")
            XCTAssertTrue(r.log.joined().contains("field \"\(field)\""), "\(field) \(value): \(r.log)")
        }
    }

    func testNoIntactCheckpointIsAnErrorThatListsEachAndDeletesNothing() throws {
        let (run, _, _) = try makeRun("allbad")
        for s in [2, 4, 6] { try flipByte(run.folder.appendingPathComponent("step-\(s)/model.safetensors"), at: 5) }
        XCTAssertThrowsError(try restore(run)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("no intact checkpoint to resume"), text)
            for s in [2, 4, 6] { XCTAssertTrue(text.contains("checkpoints/step-\(s): checkpoint: "), text) }
        }
        XCTAssertEqual(run.checkpointFolders().map(\.step), [6, 4, 2])
    }

    func testNonFiniteWeightsAreNeverSavedAndRotationKeepsTheIntactOnes() throws {
        let (run, model, opt) = try makeRun("save")
        let before = try Data(contentsOf: run.latestPointer)
        model.store.values.floats[11] = -.infinity
        XCTAssertThrowsError(try run.save(model: model, optimizer: opt, state: Self.state(8), tokenizerFiles: [], keep: 1)) {
            XCTAssertTrue("\($0)".contains("not saving checkpoint step-8: the weights are not finite"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: run.latestPointer), before)
        XCTAssertEqual(run.checkpointFolders().map(\.step), [6, 4, 2], "nothing written, nothing rotated")

        // Rotation counts only checkpoints up to the one just written: saving step-3 with keep 1
        // deletes step-2 and never the newer ones (step-9 stands for any a fallback passed over).
        model.store.values.floats[11] = 0.5
        try FileManager.default.createDirectory(at: run.folder.appendingPathComponent("step-9"), withIntermediateDirectories: true)
        try run.save(model: model, optimizer: opt, state: Self.state(3), tokenizerFiles: [], keep: 1)
        XCTAssertEqual(run.checkpointFolders().map(\.step), [9, 6, 4, 3])
    }

    /// The non-finite rule: a step with a non-finite loss is skipped; K in a row stop the run with
    /// an error before any observer runs (no save, no rotation).
    func testConsecutiveNonFiniteStepsStopWithoutSaving() throws {
        let (run, model, opt) = try makeRun("diverge")
        final class Source: BatchSource {
            func batch(_ index: Int) throws -> TrainingBatch {
                // Finite for the first two micro-batches after the resume cursor (6), NaN after.
                TrainingBatch(tokens: 10, label: "x") { _ in try Tensor([index < 8 ? 1 : .nan], shape: [1]) }
            }
        }
        let saver = CheckpointObserver(checkpoints: run, every: 1, keep: 20, tokenizerFiles: [])
        var options = LoopOptions(steps: 100)
        options.maxConsecutiveSkippedSteps = 3
        let loop = TrainingLoop(model: model, optimizer: opt, schedule: AnnealingLR(peak: 1e-3, warmupSteps: 0, decaySteps: 100),
                                state: Self.state(6), options: options, source: Source(), observers: [saver], watchSignals: false)
        XCTAssertThrowsError(try loop.run()) { e in
            XCTAssertTrue("\(e)".contains("not finite for 3 steps in a row (steps 9–11"), "\(e)")
            XCTAssertTrue("\(e)".contains("stopped without saving"), "\(e)")
        }
        // Steps 7, 8 updated; 9, 10 skipped (saved: their weights are step 8's); 11 stopped the run unsaved.
        XCTAssertEqual(run.checkpointFolders().map(\.step), [10, 9, 8, 7, 6, 4, 2])
        XCTAssertEqual(try run.latest()?.lastPathComponent, "step-10")
        let w8 = try SafeTensors.read(run.folder.appendingPathComponent("step-8/model.safetensors"))
        let w10 = try SafeTensors.read(run.folder.appendingPathComponent("step-10/model.safetensors"))
        for (k, t) in w8 { XCTAssertEqual(t.floats(), w10[k]?.floats(), k) }
    }

    // MARK: - Class 6: one run per folder

    func testASecondTrainerOnTheSameFolderIsRefusedNamingTheHolder() throws {
        let run = RunCheckpoints(runDir: tmp.appendingPathComponent("locked"))
        let held = try run.lock(purpose: "glm pretrain")
        XCTAssertThrowsError(try run.lock(purpose: "glm pretrain --resume")) { e in
            XCTAssertTrue("\(e)".contains("is in use by PID \(getpid())"), "\(e)")
            XCTAssertTrue("\(e)".contains("glm pretrain"), "\(e)")
        }
        held.release()
        XCTAssertNoThrow(try run.lock(purpose: "glm pretrain").release())
    }
}

/// The same classes through the `glm` executable, as a user meets them.
final class HostileRunCLITests: RunTestCase {
    func text(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

    func latestStep(_ run: URL) -> String {
        text(run.appendingPathComponent("latest")).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Class 5: a flipped byte in the latest checkpoint's weights; `--resume` says so, resumes from
    /// the one before with the same losses as the first time, keeps the broken one aside.
    func testResumeFromACorruptLatestCheckpointFallsBackAndRepeatsTheSameLosses() throws {
        let cfg = try makeConfig(steps: 8, saveEvery: 4)
        let run = tmp.appendingPathComponent("c")
        let first = try launch(["pretrain", "--config", cfg.path, "--output", run.path])
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        let reference = try losses(run)
        let weights = run.appendingPathComponent("checkpoints/step-8/model.safetensors")
        var d = try Data(contentsOf: weights)
        d[d.count / 2] ^= 0x01
        try d.write(to: weights)

        let (p, log) = try launchLogged(["pretrain", "--output", run.path, "--resume", "--steps", "8"])
        p.waitUntilExit()
        let out = text(log)
        XCTAssertEqual(p.terminationStatus, 0, out)
        XCTAssertTrue(out.contains("checkpoints/step-8/model.safetensors is corrupt: CRC-32C"), out)
        XCTAssertTrue(out.contains("resuming from the newest intact checkpoint, checkpoints/step-4 (step 4)"), out)
        XCTAssertTrue(out.contains("kept the broken checkpoint as checkpoints/step-8.corrupt"), out)
        XCTAssertEqual(try losses(run), reference, "steps 5–8 retrained from step 4 exactly")
        let kept = try FileManager.default.contentsOfDirectory(atPath: run.appendingPathComponent("checkpoints").path).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertEqual(kept, ["step-4", "step-8", "step-8.corrupt"])
        XCTAssertEqual(latestStep(run), "checkpoints/step-8")
    }

    /// Class 6: a second `glm pretrain` (fresh or `--resume`) on a running run's folder is refused,
    /// naming the holder's PID, and changes nothing there.
    func testTwoRunsOnOneFolderTheSecondIsRefusedNamingThePID() throws {
        let cfg = try makeConfig(steps: 400, saveEvery: 1000)
        let run = tmp.appendingPathComponent("d")
        let (p1, _) = try launchLogged(["pretrain", "--config", cfg.path, "--output", run.path])
        XCTAssertTrue(waitFor(120) { !p1.isRunning || ((try? self.losses(run)) ?? [:]).count >= 2 })
        XCTAssertTrue(p1.isRunning)
        let config = try Data(contentsOf: run.appendingPathComponent("config.json"))
        for args in [["pretrain", "--config", cfg.path, "--output", run.path, "--steps", "3"],
                     ["pretrain", "--output", run.path, "--resume", "--steps", "3"]] {
            let (p2, log) = try launchLogged(args)
            p2.waitUntilExit()
            let out = text(log)
            XCTAssertNotEqual(p2.terminationStatus, 0, out)
            XCTAssertTrue(out.contains("is in use by PID \(p1.processIdentifier) on "), out)
            XCTAssertTrue(out.contains("(glm pretrain, since "), out)
        }
        XCTAssertEqual(try Data(contentsOf: run.appendingPathComponent("config.json")), config)
        kill(p1.processIdentifier, SIGTERM)
        p1.waitUntilExit()
        XCTAssertEqual(p1.terminationStatus, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent(".glm.lock").path))
        let steps = try losses(run).keys.sorted()
        XCTAssertEqual(steps, Array(1...steps.count), "every step logged once, by the first run")
    }

    /// Class 9: SIGTERM or the time limit inside a step of 1,000,000 micro-batches stops within
    /// seconds, keeps the last complete step's checkpoint, and the run resumes exactly.
    func testStopInsideAHugeGradientAccumulationStepThenExactResume() throws {
        let cfg = try makeConfig(steps: 4, saveEvery: 2, extra: ["decaySteps": 4, "evalEvery": 0, "demoSentences": 0])
        let a = tmp.appendingPathComponent("a"), b = tmp.appendingPathComponent("b")
        let full = try launch(["pretrain", "--config", cfg.path, "--output", a.path])
        full.waitUntilExit()
        XCTAssertEqual(full.terminationStatus, 0)
        let reference = try losses(a)
        let half = try launch(["pretrain", "--config", cfg.path, "--output", b.path, "--steps", "2"])
        half.waitUntilExit()
        XCTAssertEqual(half.terminationStatus, 0)

        let (p, log) = try launchLogged(["pretrain", "--output", b.path, "--resume", "--steps", "4", "--grad-accum", "1000000"])
        XCTAssertTrue(waitFor(120) { !p.isRunning || self.text(log).contains("training ") })
        sleep(2)
        XCTAssertTrue(p.isRunning)
        let signalled = Date()
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        let took = Date().timeIntervalSince(signalled)
        XCTAssertLessThan(took, 15, "SIGTERM took \(took) s")
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 0, text(log))
        XCTAssertTrue(text(log).contains("signal 15: stopped after step 2"), text(log))
        XCTAssertEqual(latestStep(b), "checkpoints/step-2")

        let (t, tlog) = try launchLogged(["pretrain", "--output", b.path, "--resume", "--grad-accum", "1000000", "--time-limit", "3"])
        let started = Date()
        t.waitUntilExit()
        XCTAssertEqual(t.terminationStatus, 0, text(tlog))
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
        XCTAssertTrue(text(tlog).contains("time limit of 3 s reached at step 2"), text(tlog))
        XCTAssertEqual(latestStep(b), "checkpoints/step-2")

        // (The saved config now holds the 3 s limit, counted over the whole run: lift it.)
        let rest = try launch(["pretrain", "--output", b.path, "--resume", "--grad-accum", "1", "--time-limit", "100000"])
        rest.waitUntilExit()
        XCTAssertEqual(rest.terminationStatus, 0)
        XCTAssertEqual(try losses(b), reference)
    }

    /// Class 4: a hand-edited `config.json` of a run given to `--resume` is checked like flags,
    /// naming the field.
    func testResumeWithABrokenRunConfigNamesTheField() throws {
        let cfg = try makeConfig()
        let resolved = try TrainConfig.load(cfg, over: TrainConfig())
        let base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(resolved)) as! [String: Any]
        for (field, value, needle) in [("batchSize", 2.5 as Any, "field \"batchSize\""),
                                       ("batchSize", 0 as Any, "batchSize (--batch-size) must be in 1…65536, got 0"),
                                       ("gradientAccumulation", 4611686018427387904 as Any, "gradientAccumulation (--grad-accum) must be in 1…1048576"),
                                       ("learningRate", "fast" as Any, "field \"learningRate\""),
                                       ("steps", -3 as Any, "steps (--steps) must be in 1…")] {
            let run = tmp.appendingPathComponent("bad-\(field)-\(value)")
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            var c = base
            c[field] = value
            c["output"] = run.path
            try JSONSerialization.data(withJSONObject: c).write(to: run.appendingPathComponent("config.json"))
            let (p, log) = try launchLogged(["pretrain", "--output", run.path, "--resume"])
            p.waitUntilExit()
            XCTAssertNotEqual(p.terminationStatus, 0)
            XCTAssertTrue(text(log).contains(needle), "\(field)=\(value): \(text(log))")
            XCTAssertFalse(text(log).contains("Fatal error"), text(log))
        }
    }
}
