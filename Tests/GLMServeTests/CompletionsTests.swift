import Foundation
import XCTest
import GLM
import GLMServe

/// `POST /v1/completions`, OpenAI's completions API.
final class CompletionsTests: XCTestCase {
    /// Greedy, `n` tokens at most (and at least `min`).
    private func greedy(_ n: Int, min: Int = 0) -> GenerationConfig {
        var c = GenerationConfig(); c.greedy = true; c.maxNewTokens = n; c.minNewTokens = min; c.topK = 0
        return c
    }

    func testCompletionsContinueOrFillAndCountUsage() throws {
        let s = try TestServer()
        let r = try s.post("/v1/completions", ["model": "tiny", "prompt": "w7 w8 w9", "max_tokens": 6, "min_tokens": 3, "temperature": 0])
        XCTAssertEqual(r.status, 200, r.text)
        let o = try XCTUnwrap(r.json)
        XCTAssertEqual(o["object"] as? String, "text_completion")
        XCTAssertEqual(o["model"] as? String, "tiny")
        XCTAssertTrue((o["id"] as? String)?.hasPrefix("cmpl-") ?? false)
        let choices = o["choices"] as! [[String: Any]]
        let alone = try s.alone("w7 w8 w9", greedy(6, min: 3))
        XCTAssertGreaterThanOrEqual(alone.generated_tokens, 3)
        XCTAssertEqual(choices.count, 1)
        XCTAssertEqual(choices[0]["text"] as? String, alone.fills[0].text)     // the continuation alone
        XCTAssertEqual(choices[0]["index"] as? Int, 0)
        XCTAssertTrue(choices[0]["logprobs"] is NSNull)
        XCTAssertEqual(choices[0]["finish_reason"] as? String, alone.fills[0].stop == "length" ? "length" : "stop")
        let usage = o["usage"] as! [String: Int]
        // [CLS] w7 w8 w9 [MASK] (no eos after a trailing mask)
        XCTAssertEqual(usage["prompt_tokens"], 5)
        XCTAssertEqual(usage["completion_tokens"], alone.generated_tokens)
        XCTAssertEqual(usage["total_tokens"], 5 + alone.generated_tokens)

        // A prompt with blanks: the text is the filled prompt. A list: one choice per prompt.
        let r2 = try s.post("/v1/completions", ["model": "tiny", "prompt": ["w40 [MASK] w44 [MASK] w48", "w3 w4", "w60"], "max_tokens": 4, "temperature": 0])
        let c2 = (r2.json!["choices"] as! [[String: Any]])
        XCTAssertEqual(c2.map { $0["index"] as! Int }, [0, 1, 2])
        XCTAssertEqual(c2[0]["text"] as? String, try s.alone("w40 [MASK] w44 [MASK] w48", greedy(4)).text)
        XCTAssertEqual(c2[1]["text"] as? String, try s.alone("w3 w4", greedy(4)).fills[0].text)
        XCTAssertEqual(c2[2]["text"] as? String, try s.alone("w60", greedy(4)).fills[0].text)

        // Sampling: the same seed gives the same text, and the text GLM gives that seed.
        let body: [String: Any] = ["prompt": "w10 w11", "max_tokens": 8, "temperature": 1.5, "top_p": 0.9, "seed": 5]
        let a = try s.post("/v1/completions", body).json!, b = try s.post("/v1/completions", body).json!
        let textA = (a["choices"] as! [[String: Any]])[0]["text"] as! String
        XCTAssertEqual(textA, (b["choices"] as! [[String: Any]])[0]["text"] as? String)
        var sampled = GenerationConfig(); sampled.temperature = 1.5; sampled.topP = 0.9; sampled.topK = 0; sampled.seed = 5; sampled.maxNewTokens = 8
        XCTAssertEqual(textA, try s.alone("w10 w11", sampled).fills[0].text)
    }

    func testStreamedCompletionIsTheSameText() throws {
        let s = try TestServer()
        for prompt in ["w7 w8 w9", "w40 [MASK] w44 [MASK] w48"] {
            let plain = try s.post("/v1/completions", ["prompt": prompt, "max_tokens": 5, "min_tokens": 4, "temperature": 0]).json!
            let whole = (plain["choices"] as! [[String: Any]])[0]
            var pieces: [String] = [], reasons: [Any] = [], usage: [String: Int]?, sawDone = false
            let body = try JSONSerialization.data(withJSONObject: ["prompt": prompt, "max_tokens": 5, "min_tokens": 4, "temperature": 0, "stream": true,
                                                                   "stream_options": ["include_usage": true]])
            let head = try s.client().events("POST", "/v1/completions", body: body) { name, data in
                XCTAssertNil(name)
                if data == "[DONE]" { sawDone = true; return true }
                let o = try JSONSerialization.jsonObject(with: Data(data.utf8)) as! [String: Any]
                XCTAssertEqual(o["object"] as? String, "text_completion")
                if let u = o["usage"] as? [String: Int] { usage = u }
                for c in o["choices"] as! [[String: Any]] {
                    pieces.append(c["text"] as! String)
                    reasons.append(c["finish_reason"]!)
                }
                return true
            }
            XCTAssertEqual(head.status, 200)
            XCTAssertTrue(sawDone)
            XCTAssertGreaterThan(pieces.count, 2, "streamed token by token")
            XCTAssertEqual(pieces.joined(), whole["text"] as? String)
            XCTAssertEqual(reasons.last as? String, whole["finish_reason"] as? String)
            XCTAssertTrue(reasons.dropLast().allSatisfy { $0 is NSNull })
            XCTAssertEqual(usage, plain["usage"] as? [String: Int])
        }
    }

    func testStopSequencesCutTheContinuation() throws {
        let s = try TestServer()
        let full = try s.alone("w7 w8 w9", greedy(8, min: 8)).fills[0]
        let words = full.text.split(separator: " ")
        XCTAssertEqual(words.count, 8, full.text)
        let stop = " " + words[2]
        let expected = String(full.text[..<full.text.range(of: stop)!.lowerBound])
        let r = try s.post("/v1/completions", ["prompt": "w7 w8 w9", "max_tokens": 8, "min_tokens": 8, "temperature": 0, "stop": [stop, "zzz"]]).json!
        let c = (r["choices"] as! [[String: Any]])[0]
        XCTAssertEqual(c["text"] as? String, expected)
        XCTAssertEqual(c["finish_reason"] as? String, "stop")
        XCTAssertLessThan((r["usage"] as! [String: Int])["completion_tokens"]!, full.ids.count + 1)
        var pieces: [String] = []
        let body = try JSONSerialization.data(withJSONObject: ["prompt": "w7 w8 w9", "max_tokens": 8, "min_tokens": 8, "temperature": 0, "stop": stop, "stream": true])
        try s.client().events("POST", "/v1/completions", body: body) { _, data in
            if data != "[DONE]" {
                let o = try JSONSerialization.jsonObject(with: Data(data.utf8)) as! [String: Any]
                pieces += (o["choices"] as! [[String: Any]]).map { $0["text"] as! String }
            }
            return true
        }
        XCTAssertEqual(pieces.joined(), expected)
    }

    func testUnsupportedOpenAISettingsAreNamed() throws {
        let s = try TestServer()
        let cases: [([String: Any], Int, String)] = [
            (["prompt": "w5", "n": 2], 400, "n"),
            (["prompt": "w5", "best_of": 3], 400, "best_of"),
            (["prompt": "w5", "echo": true], 400, "echo"),
            (["prompt": "w5", "logprobs": 2], 400, "logprobs"),
            (["prompt": "w5", "presence_penalty": 0.5], 400, "presence_penalty"),
            (["prompt": "w5", "suffix": "w9"], 400, "suffix"),
            (["prompt": [1, 2, 3]], 400, "prompt"),
            (["prompt": []], 400, "prompt"),
            (["model": "gpt-4", "prompt": "w5"], 404, "model"),
            (["prompt": "w5 [MASK]", "stop": "w9"], 400, "stop"),
            (["prompt": "w5", "stop": ["a", "b", "c", "d", "e"]], 400, "stop"),
            (["prompt": "w5", "temperature": -1], 400, "temperature"),
            (["prompt": "w5", "top_p": 0], 400, "top_p"),
            (["prompt": "w5", "max_tokens": 0], 400, "max_tokens"),
            (["prompt": "w5", "max_tokens": 100_000], 400, "max_tokens"),
            (["prompt": "w5", "stream_options": ["include_usage": "yes"]], 400, "stream_options.include_usage"),
            (["prompt": "w5", "frobnicate": 1], 400, "frobnicate"),
        ]
        for (body, status, param) in cases {
            let r = try s.post("/v1/completions", body)
            XCTAssertEqual(r.status, status, "\(body): \(r.text)")
            let e = r.json?["error"] as? [String: Any]
            XCTAssertEqual(e?["param"] as? String, param, "\(body): \(r.text)")
            XCTAssertFalse((e?["message"] as? String ?? "").isEmpty)
        }
        // Neutral values of those settings are accepted, as OpenAI clients send them.
        let ok = try s.post("/v1/completions", ["prompt": "w5", "n": 1, "best_of": 1, "echo": false, "logprobs": NSNull(), "presence_penalty": 0,
                                                "frequency_penalty": 0, "logit_bias": [String: Any](), "user": "me", "max_tokens": 2])
        XCTAssertEqual(ok.status, 200, ok.text)
    }
}
