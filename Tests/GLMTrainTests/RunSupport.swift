import Foundation
import XCTest
import GLMNN
import GLMTestSupport

/// What the end-to-end run tests share: a scratch folder, the built `glm` executable, launching
/// it, reading the losses it logged, and waiting for a condition.
class RunTestCase: XCTestCase {
    static let repo = GLMExecutable.repository
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("glm-run-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    /// For `glm pretrain` tests: a small corpus (a slice of the held-out novel) and a tiny-run config file.
    func makeConfig(steps: Int = 12, saveEvery: Int = 4, extra: [String: Any] = [:]) throws -> URL {
        let text = try String(contentsOf: Self.repo.appendingPathComponent("Resources/corpus/valid/persuasion.txt"), encoding: .utf8)
        let data = tmp.appendingPathComponent("corpus")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try String(text.prefix(60_000)).write(to: data.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        try String(text.dropFirst(60_000).prefix(8_000)).write(to: tmp.appendingPathComponent("valid.txt"), atomically: true, encoding: .utf8)
        let base: [String: Any] = [
            "model": ["num_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "vocab_size": 30592,
                      "max_sequence_length": 64],
            "data": [data.path], "validationData": [tmp.appendingPathComponent("valid.txt").path],
            "tokenizer": Self.repo.appendingPathComponent("Resources/tokenizers/bert-base-uncased").path,
            "seqLength": 48, "batchSize": 4, "steps": steps, "saveEvery": saveEvery, "evalEvery": 6, "evalBatches": 2,
            "learningRate": 1e-3, "warmup": 0.1, "demoSentences": 1, "keepCheckpoints": 2,
        ]
        let url = tmp.appendingPathComponent("run.json")
        let cfg = base.merging(extra) { _, new in new }
        try JSONSerialization.data(withJSONObject: cfg).write(to: url)
        return url
    }

    /// The `glm` executable built next to this test bundle, or a skip.
    func glmBinary() throws -> URL {
        guard let u = GLMExecutable.url else { throw XCTSkip(GLMExecutable.notBuilt) }
        return u
    }

    func launch(_ args: [String]) throws -> Process { try launchLogged(args).process }

    /// Starts `glm` with `args`; its stdout and stderr go to one file (returned) that tests read.
    func launchLogged(_ args: [String]) throws -> (process: Process, log: URL) {
        let u = tmp.appendingPathComponent("log-\(UUID().uuidString.prefix(6)).txt")
        FileManager.default.createFile(atPath: u.path, contents: nil)
        let p = Process()
        p.executableURL = try glmBinary()
        p.arguments = args
        let h = try FileHandle(forWritingTo: u)
        p.standardOutput = h
        p.standardError = h
        try p.run()
        return (p, u)
    }

    /// Training losses per step as logged (the JSON text, so equality is bit for bit).
    func losses(_ run: URL) throws -> [Int: String] {
        let text = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        var out: [Int: String] = [:]
        for line in text.split(separator: "\n") where line.contains("\"loss\"") {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let step = obj["step"] as! Int
            XCTAssertNil(out[step], "step \(step) logged twice")
            let loss = line.components(separatedBy: "\"loss\": ")[1].split(separator: ",")[0]
            out[step] = String(loss)
        }
        return out
    }

    /// Exact resume after a crash: `command(a)` run to its end is the reference (`steps` losses);
    /// `command(b)` is SIGKILLed once it has logged step `killAfter` and written a checkpoint, then
    /// `resume(b)` finishes it. The resumed run must log the reference losses bit for bit and end
    /// with the same weights. Returns the two run folders for the checks particular to a command.
    @discardableResult
    func assertKilledRunResumesExactly(steps: Int, killAfter: Int, command: (URL) -> [String], resume: (URL) -> [String],
                                       file: StaticString = #filePath, line: UInt = #line) throws -> (a: URL, b: URL) {
        let a = tmp.appendingPathComponent("a"), b = tmp.appendingPathComponent("b")
        let full = try launch(command(a))
        full.waitUntilExit()
        XCTAssertEqual(full.terminationStatus, 0, file: file, line: line)
        let reference = try losses(a)
        XCTAssertEqual(reference.count, steps, file: file, line: line)

        let victim = try launch(command(b))
        // Killed after a checkpoint, in the middle of later steps.
        let ok = waitFor(120) {
            guard victim.isRunning else { return true }
            let l = (try? self.losses(b)) ?? [:]
            return l.keys.contains(killAfter) && FileManager.default.fileExists(atPath: b.appendingPathComponent("latest").path)
        }
        XCTAssertTrue(ok, "victim run never reached step \(killAfter)", file: file, line: line)
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        XCTAssertEqual(victim.terminationReason, .uncaughtSignal, file: file, line: line)

        let resumed = try launch(resume(b))
        resumed.waitUntilExit()
        XCTAssertEqual(resumed.terminationStatus, 0, file: file, line: line)
        XCTAssertEqual(try losses(b), reference, file: file, line: line)
        // The final weights agree too.
        let wa = try SafeTensors.read(a.appendingPathComponent("model/model.safetensors"))
        let wb = try SafeTensors.read(b.appendingPathComponent("model/model.safetensors"))
        for (k, t) in wa { XCTAssertEqual(t.floats(), wb[k]?.floats(), k, file: file, line: line) }
        return (a, b)
    }

    func waitFor(_ timeout: Double, _ cond: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if cond() { return true }; usleep(20_000) }
        return cond()
    }
}
