import Foundation
import XCTest
import GLM
import GLMServe
import GLMTestSupport

/// Real clients against the server: the OpenAI Python client, the page in headless Chromium, the
/// `glm serve` executable stopping on SIGTERM, and the load-test client.
final class ClientTests: XCTestCase {
    /// Runs a program and returns its exit status, stdout and stderr.
    private func run(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> (Int32, String, String) {
        let r = try runProcess(URL(fileURLWithPath: exe), args, environment: env)
        return (r.rc, r.out, r.err)
    }

    /// A Python that has the `openai` package: $GLM_TEST_PYTHON, the venv `./run test` makes, or python3.
    private func python(with module: String) throws -> String {
        var candidates: [String] = []
        if let p = ProcessInfo.processInfo.environment["GLM_TEST_PYTHON"] { candidates.append(p) }
        candidates.append(Fixture.repository.appendingPathComponent(".build/test-python/bin/python").path)
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/python3") }
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) {
            if let r = try? run(c, ["-c", "import \(module)"]), r.0 == 0 { return c }
        }
        throw XCTSkip("no Python with the '\(module)' package (tried \(candidates.prefix(2).joined(separator: ", ")), python3 on PATH); `./run test` installs it, or: pip install \(module)")
    }

    func testTheOpenAIPythonClientWorksUnchanged() throws {
        let py = try python(with: "openai")
        let s = try TestServer { $0.apiKey = "s3cret" }
        let script = Fixture.repository.appendingPathComponent("Tools/serve/openai_check.py").path
        let (rc, out, err) = try run(py, [script, "--base-url", "http://127.0.0.1:\(s.port)/v1", "--model", "tiny", "--api-key", "s3cret"])
        XCTAssertEqual(rc, 0, err)
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], out + err)
        XCTAssertEqual(o["models"] as? [String], ["tiny"])
        XCTAssertEqual(o["model"] as? String, "tiny")

        var greedy = GenerationConfig(); greedy.greedy = true; greedy.maxNewTokens = 6; greedy.minNewTokens = 6
        let expected = try s.alone("w7 w8 w9", greedy).fills[0]
        let c = try XCTUnwrap(o["completion"] as? [String: Any])
        XCTAssertEqual(c["text"] as? String, expected.text)
        XCTAssertEqual(c["object"] as? String, "text_completion")
        XCTAssertEqual(c["finish_reason"] as? String, expected.stop == "length" ? "length" : "stop")
        // usage as the client parsed it (its model also has *_details fields, null here).
        func counts(_ u: Any?) -> [Int?] {
            let d = u as? [String: Any]
            return ["prompt_tokens", "completion_tokens", "total_tokens"].map { d?[$0] as? Int }
        }
        XCTAssertEqual(counts(c["usage"]), [5, expected.ids.count, 5 + expected.ids.count])
        let st = try XCTUnwrap(o["stream"] as? [String: Any])
        XCTAssertEqual(st["text"] as? String, expected.text)
        XCTAssertGreaterThan((st["pieces"] as? [String])?.count ?? 0, 2)
        XCTAssertEqual(st["finish_reason"] as? String, c["finish_reason"] as? String)
        XCTAssertEqual(counts(st["usage"]), counts(c["usage"]))

        var sampled = GenerationConfig(); sampled.temperature = 0.8; sampled.topK = 0; sampled.seed = 9; sampled.maxNewTokens = 4
        let batch = try XCTUnwrap(o["batch"] as? [[String: Any]])
        XCTAssertEqual(batch.map { $0["index"] as? Int }, [0, 1])
        XCTAssertEqual(batch[0]["text"] as? String, try s.alone("w40 [MASK] w44", sampled).text)
        XCTAssertEqual(batch[1]["text"] as? String, try s.alone("w12 w13", sampled).fills[0].text)

        XCTAssertEqual((o["n_error"] as? [String: Any])?["status"] as? Int, 400)
        XCTAssertEqual((o["n_error"] as? [String: Any])?["param"] as? String, "n")
        XCTAssertEqual((o["model_error"] as? [String: Any])?["status"] as? Int, 404)
        XCTAssertEqual((o["model_error"] as? [String: Any])?["code"] as? String, "model_not_found")
        XCTAssertEqual((o["auth_error"] as? [String: Any])?["status"] as? Int, 401)
    }

    func testThePageFillsBlanksInARealBrowser() throws {
        let chromium = ["GLM_CHROMIUM", "CHROMIUM"].compactMap { ProcessInfo.processInfo.environment[$0] }.first
            ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let chromium else { throw XCTSkip("Chromium is not installed (Debian: apt-get install chromium; `./run test` installs it)") }
        let py = try python(with: "json")
        // Slow steps, so the page is seen filling token by token.
        let s = try TestServer { $0.stepPause = 0.03 }
        let shot = ProcessInfo.processInfo.environment["GLM_SERVE_SCREENSHOT"]
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("glm-serve-page-\(getpid()).png").path
        let script = Fixture.repository.appendingPathComponent("Tools/serve/browser_check.py").path
        let text = "w40 w41 [MASK] w44 [MASK] w48"
        let (rc, out, err) = try run(py, [script, "--url", "http://127.0.0.1:\(s.port)/", "--text", text, "--min-new-tokens", "4", "--max-new-tokens", "5",
                                          "--screenshot", shot, "--chromium", chromium])
        XCTAssertEqual(rc, 0, err)
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], out + err)
        var greedy = GenerationConfig(); greedy.greedy = true; greedy.maxNewTokens = 5; greedy.minNewTokens = 4
        let expected = try s.alone(text, greedy)
        XCTAssertGreaterThanOrEqual(expected.generated_tokens, 8)
        XCTAssertEqual(o["model"] as? String, "tiny")
        XCTAssertEqual(o["typed"] as? String, text)
        XCTAssertEqual(o["state"] as? String, "done", "\(o["status"] ?? "")")
        XCTAssertEqual(o["output"] as? String, expected.text)
        let marks = try XCTUnwrap(o["marks"] as? [[Any]])
        XCTAssertEqual(marks.map { $0[0] as? Int }, [0, 1])
        XCTAssertEqual(marks.map { $0[1] as? String }, expected.fills.map(\.text))
        XCTAssertEqual(o["token_events"] as? Int, expected.generated_tokens)
        XCTAssertTrue((o["status"] as? String ?? "").contains("2 blanks filled"))
        // It streamed: the page showed partial fills, the live one highlighted, before the end.
        let running = try XCTUnwrap(o["while_running"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(running.count, 3, "\(running)")
        XCTAssertTrue(running.contains { ($0["live_marks"] as? Int) == 1 })
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertGreaterThan(png.count, 10_000)
    }

    func testServeStopsOnSIGTERMAfterTheRequestsInFlight() throws {
        let glm = try Fixture.glm()
        let folder = try Fixture.modelFolder()
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let p = Process()
        p.executableURL = glm
        p.arguments = ["serve", "--model", folder.path, "--port", "0", "--step-pause-ms", "20", "--sequence-capacity", "128"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        // "glm serve: tiny on http://127.0.0.1:PORT (…)"
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let d = out.fileHandleForReading.availableData
            guard !d.isEmpty else { break }
            line += d
        }
        let banner = String(decoding: line, as: UTF8.self)
        let port = try XCTUnwrap(banner.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) }, banner)
        XCTAssertTrue(banner.hasPrefix("glm serve: tiny on http://127.0.0.1:"), banner)

        // A fill of 3 × 20 tokens at ≥ 20 ms a step is in flight when SIGTERM arrives.
        let client = try LoopbackClient(port: port)
        let firstToken = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let names = ResultsBox<[String]>(results: [nil])
        let body = try JSONSerialization.data(withJSONObject: ["text": "[MASK] [MASK] [MASK]", "min_new_tokens": 20, "max_new_tokens": 20, "stream": true])
        Thread {
            var seen: [String] = []
            let r = Result { try client.events("POST", "/v1/fill", body: body) { name, _ in
                if name == "token" && !seen.contains("token") { firstToken.signal() }
                seen.append(name ?? "")
                return true
            } }
            names.results[0] = r.map { _ in seen }
            finished.signal()
        }.start()
        XCTAssertEqual(firstToken.wait(timeout: .now() + 20), .success)
        kill(p.processIdentifier, SIGTERM)
        XCTAssertEqual(finished.wait(timeout: .now() + 30), .success)
        let seen = try XCTUnwrap(names.results[0]).get()
        XCTAssertEqual(seen.suffix(2), ["end", "done"], "the request in flight finished")
        XCTAssertEqual(seen.filter { $0 == "token" }.count, 60)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertTrue(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("stopped"))
        XCTAssertThrowsError(try LoopbackClient(port: port).request("GET", "/health"))
    }

    func testTheLoadTestCountsTokensAndNoErrors() throws {
        let s = try TestServer()
        var settings = LoadTest.Settings()
        settings.port = s.port
        settings.clients = 3
        settings.seconds = 1
        settings.tokens = 4
        settings.serverPID = getpid()
        let r = LoadTest.run(settings)
        XCTAssertEqual(r.errors, 0, r.first_error ?? "")
        XCTAssertGreaterThan(r.requests, 3)
        XCTAssertEqual(r.generated_tokens, r.requests * 4)
        XCTAssertGreaterThan(r.tokens_per_s, 0)
        XCTAssertLessThanOrEqual(r.p50_ms, r.p99_ms)
        XCTAssertNotNil(r.rss_before_mib)
        XCTAssertTrue(LoadTest.table([r]).contains("| 3 | \(r.requests) | 0 |"))
    }
}
