import Foundation
import XCTest
import GLM
import GLMServe

/// Concurrent requests decode together in one batch, and each gets exactly what it gets alone:
/// greedy ids identical, sampling identical for the same seed.
final class BatchingTests: XCTestCase {
    func testConcurrentRequestsBatchAndGetWhatTheyGetAlone() throws {
        // Slow steps so that the requests overlap; 8 rows so that they all fit.
        let s = try TestServer { $0.stepPause = 0.005 }
        let requests: [[String: Any]] = [
            ["text": "w40 w41 [MASK] w44 [MASK] w48", "greedy": true, "min_new_tokens": 4, "max_new_tokens": 8],
            ["text": "w7 w8", "temperature": 1.4, "top_k": 0, "seed": 3, "min_new_tokens": 6, "max_new_tokens": 10],
            ["text": "[MASK] w20 w21", "temperature": 0.9, "seed": 11, "min_new_tokens": 5, "max_new_tokens": 12],
            ["text": "w60 w61 w62 [MASK]", "greedy": true, "repetition_penalty": 1.3, "min_new_tokens": 7, "max_new_tokens": 9],
            ["text": "w30 [MASK] w33 [MASK] w36 [MASK]", "temperature": 1.1, "top_p": 0.8, "top_k": 0, "seed": 42, "min_new_tokens": 3, "max_new_tokens": 6],
            ["text": "w7 w8", "temperature": 1.4, "top_k": 0, "seed": 4, "min_new_tokens": 6, "max_new_tokens": 10],
        ]
        // One at a time first.
        let alone = try requests.map { try FilledTextJSON(json: try s.post("/v1/fill", $0).body).untimed }
        let stepsBefore = try XCTUnwrap(try s.metric("glm_decode_steps_total"))
        // Then all together, twice over (12 requests on 8 rows: some wait and join mid-way).
        let port = s.port
        let bodies = try requests.map { try JSONSerialization.data(withJSONObject: $0) }
        let together = concurrently(bodies.count * 2) { i -> FilledTextJSON in
            Thread.sleep(forTimeInterval: 0.003 * Double(i))   // arrivals spread over several steps
            let r = try LoopbackClient(port: port).request("POST", "/v1/fill", headers: ["Content-Type": "application/json"],
                                                           body: bodies[i % bodies.count])
            guard r.status == 200 else { throw LoopbackClient.Failure(description: r.text) }
            return try FilledTextJSON(json: r.body).untimed
        }
        for (i, r) in together.enumerated() {
            XCTAssertEqual(try r.get(), alone[i % requests.count], "request \(i)")
        }
        // They did decode together: steps held several prompts, and far fewer steps were needed
        // than one at a time.
        XCTAssertGreaterThan(try XCTUnwrap(try s.metric("glm_decode_step_contexts_max")), 4)
        let stepsTogether = try XCTUnwrap(try s.metric("glm_decode_steps_total")) - stepsBefore
        XCTAssertLessThan(stepsTogether, stepsBefore)

        // Completions share the batch and the guarantee.
        let prompts = ["w7 w8 w9", "w40 [MASK] w44", "w12", "w50 w51 w52 w53"]
        let one = try prompts.map { p in try s.post("/v1/completions", ["prompt": p, "max_tokens": 6, "temperature": 0.8, "seed": 9]).json! }
        let all = try s.post("/v1/completions", ["prompt": prompts, "max_tokens": 6, "temperature": 0.8, "seed": 9]).json!
        let choices = all["choices"] as! [[String: Any]]
        for (i, o) in one.enumerated() {
            XCTAssertEqual(choices[i]["text"] as? String, (o["choices"] as! [[String: Any]])[0]["text"] as? String, prompts[i])
        }
    }
}
