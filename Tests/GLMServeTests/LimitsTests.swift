import Foundation
import XCTest
import GLM
import GLMServe

/// What a request may not do: every refusal is a 4xx with a JSON error naming the field, and
/// limits (body, prompt, tokens, queue, time) hold; a client that leaves stops its decoding.
final class LimitsTests: XCTestCase {
    private func error(_ r: LoopbackClient.Response) -> [String: Any]? { r.json?["error"] as? [String: Any] }

    func testBadRequestsNameTheField() throws {
        let s = try TestServer { $0.maxTokens = 20; $0.maxBodyBytes = 4096 }
        let cases: [([String: Any], String, String)] = [
            ([:], "text", "required"),
            (["text": 5], "text", "expected a string"),
            (["text": "   "], "text", "empty"),
            (["text": "w5 [mask] w6"], "text", "[MASK]"),
            (["text": Array(repeating: "w9", count: 40).joined(separator: " ")], "text", "max_sequence_length"),
            (["text": "w5 [MASK]", "temperature": "hot"], "temperature", "expected a number"),
            (["text": "w5 [MASK]", "temperature": 0], "temperature", "> 0"),
            (["text": "w5 [MASK]", "greedy": "yes"], "greedy", "true or false"),
            (["text": "w5 [MASK]", "top_k": 1.5], "top_k", "integer"),
            (["text": "w5 [MASK]", "top_k": -1], "top_k", "≥ 0"),
            (["text": "w5 [MASK]", "top_p": 1.5], "top_p", "[0, 1]"),
            (["text": "w5 [MASK]", "max_new_tokens": 21], "max_new_tokens", "--max-tokens"),
            (["text": "w5 [MASK]", "max_new_tokens": 0], "max_new_tokens", "≥ 1"),
            (["text": "w5 [MASK]", "min_new_tokens": 30], "min_new_tokens", "max_new_tokens"),
            (["text": "w5 [MASK]", "num_beams": 8], "num_beams", "--batch"),
            (["text": "w5 [MASK]", "repetition_penalty": 0], "repetition_penalty", "> 0"),
            (["text": "w5 [MASK]", "ban_id": [1, 500]], "ban_id", "vocabulary"),
            (["text": "w5 [MASK]", "seed": "x"], "seed", "integer"),
            (["text": "w5 [MASK]", "temprature": 1], "temprature", "unknown field"),
            (["text": "w5 [MASK]", "model": "other"], "model", "unknown field"),
            (["text": "[MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK]", "max_new_tokens": 20],
             "max_new_tokens", "--sequence-capacity"),
        ]
        for (body, param, words) in cases {
            let r = try s.post("/v1/fill", body)
            XCTAssertEqual(r.status, 400, "\(body): \(r.text)")
            XCTAssertEqual(r.headers["content-type"], "application/json")
            let e = try XCTUnwrap(error(r), r.text)
            XCTAssertEqual(e["param"] as? String, param, "\(body): \(r.text)")
            XCTAssertEqual(e["type"] as? String, "invalid_request_error")
            XCTAssertTrue((e["message"] as? String ?? "").contains(words), "\(body): \(e["message"] ?? "")")
        }
        // Malformed JSON, or not an object, or nested without end: 400 saying where.
        for (raw, words) in [("{\"text\": ", "byte 9"), ("[1, 2]", "JSON object"), ("{\"text\": \"a\",}", "field name"),
                             (String(repeating: "[", count: 2000), "nested deeper"), ("{\"text\": \"\\ud800\"}", "surrogate"),
                             ("{\"text\": \"a\", \"text\": \"b\"}", "twice")] {
            let r = try s.postRaw("/v1/fill", Data(raw.utf8))
            XCTAssertEqual(r.status, 400, raw)
            XCTAssertTrue((error(r)?["message"] as? String ?? "").contains(words), "\(raw): \(r.text)")
        }
        // Too large a body: 413, before it is parsed.
        let big = try s.postRaw("/v1/fill", Data(("{\"text\": \"" + String(repeating: "w5 ", count: 3000) + "\"}").utf8))
        XCTAssertEqual(big.status, 413)
        XCTAssertTrue((error(big)?["message"] as? String ?? "").contains("4096"))
        // No such route, or the wrong method: JSON too.
        let missing = try s.get("/v1/nothing")
        XCTAssertEqual(missing.status, 404)
        XCTAssertNotNil(error(missing))
        let wrongMethod = try s.get("/v1/fill")
        XCTAssertTrue([404, 405].contains(wrongMethod.status))
        XCTAssertNotNil(error(wrongMethod))
        // Every refusal was counted as an error of its endpoint.
        XCTAssertEqual(try s.metric("glm_http_errors_total{endpoint=\"/v1/fill\",status=\"400\"}"), Double(cases.count + 6))
        XCTAssertEqual(try s.metric("glm_http_errors_total{endpoint=\"/v1/fill\",status=\"413\"}"), 1)
    }

    func testTheAPIKeyGuardsTheAPIAndMetrics() throws {
        let s = try TestServer { $0.apiKey = "s3cret" }
        for path in ["/v1/models", "/metrics"] {
            XCTAssertEqual(try s.get(path).status, 401)
            XCTAssertEqual(try s.get(path, headers: ["Authorization": "Bearer wrong"]).status, 401)
            XCTAssertEqual(try s.get(path, headers: ["Authorization": "Bearer s3cret"]).status, 200)
        }
        let denied = try s.post("/v1/fill", ["text": "w5 [MASK]"])
        XCTAssertEqual(denied.status, 401)
        XCTAssertEqual(error(denied)?["type"] as? String, "authentication_error")
        XCTAssertEqual(denied.headers["www-authenticate"], "Bearer")
        XCTAssertEqual(try s.post("/v1/fill", ["text": "w5 [MASK]"], headers: ["Authorization": "Bearer s3cret"]).status, 200)
        // The page and the health check stay open; health says a key is needed.
        XCTAssertEqual(try s.get("/").status, 200)
        let h = try s.get("/health")
        XCTAssertEqual(h.status, 200)
        XCTAssertEqual(h.json?["api_key_required"] as? Bool, true)
    }

    func testAFullQueueAnswers429() throws {
        // One row, one waiting place, slow steps: A decodes, B waits, C is refused.
        let s = try TestServer { $0.batch = 1; $0.maxQueue = 1; $0.stepPause = 0.02 }
        let slow: [String: Any] = ["text": "[MASK] [MASK] [MASK]", "min_new_tokens": 20, "max_new_tokens": 20, "stream": true]
        let a = try s.client()
        let firstToken = DispatchSemaphore(value: 0)
        let aDone = DispatchSemaphore(value: 0)
        let body = try JSONSerialization.data(withJSONObject: slow)
        Thread {
            var signalled = false
            _ = try? a.events("POST", "/v1/fill", body: body) { name, _ in
                if name == "token" && !signalled { signalled = true; firstToken.signal() }
                return true
            }
            aDone.signal()
        }.start()
        XCTAssertEqual(firstToken.wait(timeout: .now() + 10), .success)
        let b = try s.client()
        try b.send("POST", "/v1/fill", headers: ["Content-Type": "application/json"], body: try JSONSerialization.data(withJSONObject: ["text": "w5 [MASK]"]))
        XCTAssertTrue(try s.waitFor(5) { try s.metric("glm_decode_queue_length") == 1 })
        let c = try s.post("/v1/fill", ["text": "w6 [MASK]"])
        XCTAssertEqual(c.status, 429, c.text)
        XCTAssertEqual(error(c)?["code"] as? String, "queue_full")
        XCTAssertEqual(error(c)?["type"] as? String, "rate_limit_error")
        // The completions endpoint shares the queue.
        XCTAssertEqual(try s.post("/v1/completions", ["prompt": "w6"]).status, 429)
        // Both clients hang up (end of input): A's stream ends with an error event, B leaves the queue.
        a.shutdownWrite()
        b.shutdownWrite()
        XCTAssertTrue(try s.waitFor(5) { try s.metric("glm_decode_cancelled_total") == 2 })
        XCTAssertEqual(aDone.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(s.waitFor(5) { s.server.metrics.count(endpoint: "/v1/fill", status: 429) == 1 })
    }

    func testARequestPastItsTimeLimitIsStopped() throws {
        let s = try TestServer { $0.timeout = 0.3; $0.stepPause = 0.02 }
        let long: [String: Any] = ["text": "[MASK] [MASK] [MASK] [MASK]", "min_new_tokens": 25, "max_new_tokens": 25]
        let t0 = Date()
        let r = try s.post("/v1/fill", long)
        XCTAssertEqual(r.status, 408, r.text)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.5, "stopped at the limit, not after 100 steps")
        XCTAssertEqual(error(r)?["code"] as? String, "timeout")
        // A stream ends with an error event.
        var last: (String?, String) = (nil, "")
        var streamed = long
        streamed["stream"] = true
        try s.client().events("POST", "/v1/fill", body: try JSONSerialization.data(withJSONObject: streamed)) { name, data in last = (name, data); return true }
        XCTAssertEqual(last.0, "error")
        XCTAssertTrue(last.1.contains("\"timeout\""), last.1)
        XCTAssertTrue(try s.waitFor(2) { try s.metric("glm_decode_timeouts_total") == 2 && s.server.metrics.count(endpoint: "/v1/fill", status: 408) == 2 })
        XCTAssertTrue(try s.waitFor(2) { try s.metric("glm_decode_active") == 0 })
    }

    func testAClientThatLeavesCancelsItsDecoding() throws {
        let s = try TestServer { $0.stepPause = 0.02 }
        // 4 blanks × 25 tokens at ≥ 20 ms a step: at least 2 s if it ran to the end.
        let long: [String: Any] = ["text": "[MASK] [MASK] [MASK] [MASK]", "min_new_tokens": 25, "max_new_tokens": 25]
        let t0 = Date()
        let c = try s.client()
        try c.send("POST", "/v1/fill", headers: ["Content-Type": "application/json"], body: try JSONSerialization.data(withJSONObject: long))
        XCTAssertTrue(try s.waitFor(5) { try s.metric("glm_decode_active") == 1 })
        c.close()
        XCTAssertTrue(try s.waitFor(5) { try s.metric("glm_decode_cancelled_total") == 1 })
        XCTAssertTrue(try s.waitFor(5) { try s.metric("glm_decode_active") == 0 })
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.5)

        // A streaming client that stops reading after two tokens and hangs up.
        var streamed = long
        streamed["stream"] = true
        var tokens = 0
        try s.client().events("POST", "/v1/fill", body: try JSONSerialization.data(withJSONObject: streamed)) { name, _ in
            if name == "token" { tokens += 1 }
            return tokens < 2
        }
        XCTAssertTrue(try s.waitFor(5) { try s.metric("glm_decode_cancelled_total") == 2 })
        XCTAssertTrue(try s.waitFor(5) { try s.metric("glm_decode_active") == 0 })
        // The server goes on serving.
        XCTAssertEqual(try s.post("/v1/fill", ["text": "w5 [MASK]", "max_new_tokens": 2]).status, 200)
    }
}
