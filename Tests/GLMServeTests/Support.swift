import Foundation
import XCTest
import GLM
import GLMServe
import GLMTokenizers
import GLMTestSupport

/// A model folder for the server tests: the `model-counting` fixture (2 layers, 32 hidden, 128
/// rows, 32 positions; trained to fill runs of consecutive ids) with a small BERT-style
/// vocabulary written here, as GenerationCLITests does ([PAD] [CLS] [MASK] [UNK] [SEP] w5 … w99;
/// sop = 100, eop = 101; ids 102… are padding). Counting on from sop it picks eop at once, so
/// tests that need long fills ask for a minimum length (`min_new_tokens`, `min_tokens`).
enum Fixture {
    static let repository = GLMExecutable.repository

    /// A fresh model folder under a temporary directory (removed by the caller).
    static func modelFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("glm-serve-tests-\(getpid())-\(UUID().uuidString)/tiny")
        try TestModels.writeCounting(to: folder)
        return folder
    }

    /// The `glm` executable, or a skip.
    static func glm() throws -> URL {
        guard let u = GLMExecutable.url else { throw XCTSkip(GLMExecutable.notBuilt) }
        return u
    }
}

/// A server on a free loopback port, in this process, for one test.
final class TestServer {
    let folder: URL
    let server: GLMServer
    let port: Int
    private let task: Task<Void, any Error>

    init(_ configure: (inout ServeOptions) -> Void = { _ in }) throws {
        folder = try Fixture.modelFolder()
        var o = ServeOptions()
        o.port = 0
        o.batch = 8
        o.sequenceCapacity = 256   // room for several long blanks (the default fits one)
        configure(&o)
        server = try GLMServer(model: try ServedModel.load(folder: folder.path, id: o.modelID), options: o)
        let ready = DispatchSemaphore(value: 0)
        let box = PortBox()
        let s = server
        task = Task { try await s.run(handleSignals: false) { box.port = $0; ready.signal() } }
        guard ready.wait(timeout: .now() + 30) == .success else { throw LoopbackClient.Failure(description: "the test server did not start") }
        port = box.port
    }

    deinit {
        // A graceful stop (as SIGTERM), then the task's end; cancelled if it takes too long.
        let done = DispatchSemaphore(value: 0)
        let s = server, t = task
        Task {
            await s.shutdown()
            _ = try? await t.value
            done.signal()
        }
        if done.wait(timeout: .now() + 10) == .timedOut { task.cancel() }
        try? FileManager.default.removeItem(at: folder.deletingLastPathComponent())
    }

    private final class PortBox: @unchecked Sendable { var port = 0 }

    var model: ServedModel { server.model }

    func client(timeout: Double = 30) throws -> LoopbackClient { try LoopbackClient(port: port, timeout: timeout) }

    /// One request on a fresh connection.
    func post(_ path: String, _ json: [String: Any], headers: [String: String] = [:]) throws -> LoopbackClient.Response {
        try client().post(path, json: json, headers: headers)
    }

    func get(_ path: String, headers: [String: String] = [:]) throws -> LoopbackClient.Response {
        try client().request("GET", path, headers: headers)
    }

    /// A POST of raw bytes.
    func postRaw(_ path: String, _ body: Data, headers: [String: String] = ["Content-Type": "application/json"]) throws -> LoopbackClient.Response {
        try client().request("POST", path, headers: headers, body: body)
    }

    /// The value of an unlabelled metric line (`name value`) or a labelled one given in full.
    func metric(_ line: String) throws -> Double? {
        let text = try get("/metrics").text
        for l in text.split(separator: "\n") where l.hasPrefix(line + " ") {
            return Double(l.dropFirst(line.count + 1))
        }
        return nil
    }

    /// Waits up to `seconds` for `condition`.
    func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return try condition()
    }

    /// What `glm generate --json` prints for `text` with `config`, made in-process the same way
    /// (`BlankFiller` alone, one prompt, no server), `seconds` zeroed.
    func alone(_ text: String, _ config: GenerationConfig) throws -> FilledTextJSON {
        var c = config
        c.banPadding(tokenizerSize: model.tokenizer.numTokens, vocabSize: model.model.config.vocabSize)
        let f = try BlankFiller(model: model.model).fill(text: text, tokenizer: model.tokenizer, config: c)
        return FilledTextJSON(f, tokenizer: model.tokenizer, seconds: 0)
    }
}

extension FilledTextJSON {
    /// The object without its timing, for comparisons.
    var untimed: FilledTextJSON { var c = self; c.seconds = 0; return c }

    init(json data: Data) throws { self = try JSONDecoder().decode(FilledTextJSON.self, from: data) }
}

/// Runs `body` on `n` threads at once and returns their results in order.
func concurrently<T>(_ n: Int, _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, any Error>] {
    let box = ResultsBox<T>(results: Array(repeating: nil, count: n))
    let lock = NSLock()
    let group = DispatchGroup()
    for i in 0..<n {
        group.enter()
        Thread {
            let r = Result { try body(i) }
            lock.withLock { box.results[i] = r }
            group.leave()
        }.start()
    }
    group.wait()
    return box.results.map { $0! }
}

final class ResultsBox<T>: @unchecked Sendable {
    var results: [Result<T, any Error>?]
    init(results: [Result<T, any Error>?]) { self.results = results }
}
