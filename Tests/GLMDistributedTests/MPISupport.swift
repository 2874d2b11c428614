import Foundation
import XCTest
import GLMTestSupport
import GLMDistributed
import GLMNN

/// Runs of `glm pretrain` for the distributed tests: one process, or `mpirun -np N` on this
/// machine (loopback), on a tiny model and a slice of the bundled corpus prepared once.
enum MPIRuns {
    static let repo = GLMExecutable.repository

    /// The `glm` executable built next to this test bundle, or a skip.
    static func glm() throws -> URL {
        guard let u = GLMExecutable.url else { throw XCTSkip(GLMExecutable.notBuilt) }
        return u
    }

    /// mpirun on PATH, or a skip saying why the MPI tests cannot run.
    static func mpirun() throws -> URL {
        guard Distributed.hasMPI else {
            throw XCTSkip("built without the MPI trait: `./run test-mpi` (swift test --traits MPI) runs the data-parallel tests")
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let u = URL(fileURLWithPath: String(dir)).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        throw XCTSkip("mpirun not found (apt-get install openmpi-bin)")
    }

    /// The environment of every run: one kernel thread per process (2 cores, up to 3 ranks), root
    /// allowed, oversubscription allowed, and no cross-memory-attach single copy (it needs ptrace
    /// rights that containers often lack).
    static var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["GLM_NUM_THREADS"] = "1"
        env["OMP_NUM_THREADS"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        env["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
        return env
    }

    /// A folder that lives for the whole test process (shared runs are reused across tests).
    static let work: URL = {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("glm-dist-\(getpid())")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: MPIRuns.work) }
        return u
    }()

    /// Shards of a slice of the held-out novel, prepared once.
    static func shards() throws -> URL {
        let out = work.appendingPathComponent("shards")
        if FileManager.default.fileExists(atPath: out.appendingPathComponent("manifest.json").path) { return out }
        let text = try String(contentsOf: repo.appendingPathComponent("Resources/corpus/valid/persuasion.txt"), encoding: .utf8)
        let corpus = work.appendingPathComponent("corpus")
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        try String(text.prefix(60_000)).write(to: corpus.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        let r = try run(try glm(), ["prepare", "--input", corpus.path, "--tokenizer",
                                    repo.appendingPathComponent("Resources/tokenizers/bert-base-uncased").path,
                                    "--output", out.path, "--split", "blank-line", "--quiet"])
        guard r.status == 0 else { throw XCTSkip("glm prepare failed: \(r.stderr)") }
        return out
    }

    /// A run config (JSON file): a 2-layer, 32-wide model with dropout 0.1 on every path.
    static func config(_ name: String, steps: Int, batch: Int = 8, saveEvery: Int = 10, extra: [String: Any] = [:]) throws -> URL {
        var cfg: [String: Any] = [
            "model": ["num_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "vocab_size": 30592,
                      "max_sequence_length": 64],
            "dropout": 0.1, "data": [try shards().path], "seqLength": 48, "batchSize": batch, "steps": steps,
            "saveEvery": saveEvery, "learningRate": 2e-3, "warmup": 0.1, "demoSentences": 0, "keepCheckpoints": 3,
        ]
        for (k, v) in extra { cfg[k] = v }
        let url = work.appendingPathComponent("\(name).json")
        try JSONSerialization.data(withJSONObject: cfg).write(to: url)
        return url
    }

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double
    }

    /// Runs `exe args` to the end (at most `timeout` seconds, then it is killed).
    static func run(_ exe: URL, _ args: [String], timeout: Double = 300) throws -> Outcome {
        let p = try start(exe, args)
        let t0 = Date()
        while p.process.isRunning && Date().timeIntervalSince(t0) < timeout { usleep(20_000) }
        if p.process.isRunning { p.process.terminate() }
        p.process.waitUntilExit()
        return p.finish(seconds: Date().timeIntervalSince(t0))
    }

    /// A started process whose output goes to files.
    final class Started {
        let process: Process
        let out: URL, err: URL
        init(process: Process, out: URL, err: URL) { self.process = process; self.out = out; self.err = err }
        func finish(seconds: Double) -> Outcome {
            Outcome(status: process.terminationStatus,
                    stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                    stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "", seconds: seconds)
        }
    }

    static func start(_ exe: URL, _ args: [String]) throws -> Started {
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        p.environment = environment
        let tag = UUID().uuidString.prefix(8)
        let out = work.appendingPathComponent("out-\(tag).txt"), err = work.appendingPathComponent("err-\(tag).txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        return Started(process: p, out: out, err: err)
    }

    /// `mpirun -np n glm args`.
    static func mpi(_ n: Int, _ args: [String], timeout: Double = 300) throws -> Outcome {
        try run(try mpirun(), ["-np", "\(n)", try glm().path] + args, timeout: timeout)
    }

    /// Training losses per step from a run's metrics.
    static func losses(_ run: URL) throws -> [Int: Double] {
        let text = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        var out: [Int: Double] = [:]
        for line in text.split(separator: "\n") {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let s = o["step"] as? Int, let l = o["loss"] as? Double else { continue }
            out[s] = l
        }
        return out
    }

    /// Every metrics line, as objects.
    static func metrics(_ run: URL) throws -> [[String: Any]] {
        try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The final weights of a run (its `model` folder).
    static func weights(_ run: URL) throws -> [String: [Float]] {
        try SafeTensors.read(run.appendingPathComponent("model/model.safetensors")).mapValues { $0.floats() }
    }

    /// Children of `pid` and their MPI ranks (from their environment).
    static func ranks(of pid: Int32) -> [Int: Int32] {
        var out: [Int: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == pid,
                  let env = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            for kv in env.split(separator: 0) {
                let s = String(decoding: kv, as: UTF8.self)
                if s.hasPrefix("OMPI_COMM_WORLD_RANK="), let r = Int(s.dropFirst("OMPI_COMM_WORLD_RANK=".count)) { out[r] = child }
            }
        }
        return out
    }

    static func waitFor(_ timeout: Double, _ cond: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if cond() { return true }; usleep(10_000) }
        return cond()
    }
}

/// Assertions on two runs that should have trained the same model up to summation order.
func assertSameTraining(_ a: URL, _ b: URL, steps: ClosedRange<Int>, tolerance: Double = 1e-5,
                        file: StaticString = #filePath, line: UInt = #line) throws {
    let la = try MPIRuns.losses(a), lb = try MPIRuns.losses(b)
    for s in steps {
        guard let x = la[s], let y = lb[s] else { return XCTFail("step \(s) missing: \(la[s] as Any) \(lb[s] as Any)", file: file, line: line) }
        XCTAssertLessThanOrEqual(abs(x - y) / abs(x), tolerance, "step \(s): loss \(x) vs \(y)", file: file, line: line)
    }
    let wa = try MPIRuns.weights(a), wb = try MPIRuns.weights(b)
    XCTAssertEqual(Set(wa.keys), Set(wb.keys), file: file, line: line)
    var worst = (0.0, "")
    for (k, x) in wa {
        guard let y = wb[k], y.count == x.count else { return XCTFail("\(k) differs in shape", file: file, line: line) }
        for i in x.indices where Double(abs(x[i] - y[i])) > worst.0 { worst = (Double(abs(x[i] - y[i])), k) }
    }
    XCTAssertLessThanOrEqual(worst.0, tolerance, "largest weight difference \(worst.0) in \(worst.1)", file: file, line: line)
}
