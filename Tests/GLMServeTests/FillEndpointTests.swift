import Foundation
import XCTest
import GLM
import GLMServe
import GLMTestSupport

/// `POST /v1/fill`: the object of `glm generate --json`, and its event stream.
final class FillEndpointTests: XCTestCase {
    func testFillAnswersWhatGenerateJSONPrints() throws {
        let s = try TestServer()
        var greedy = GenerationConfig(); greedy.greedy = true; greedy.maxNewTokens = 5; greedy.minNewTokens = 2
        let r = try s.post("/v1/fill", ["text": "w40 w41 [MASK] w44 [MASK] w48", "greedy": true, "max_new_tokens": 5, "min_new_tokens": 2])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.headers["content-type"], "application/json")
        let got = try FilledTextJSON(json: r.body)
        XCTAssertEqual(got.untimed, try s.alone("w40 w41 [MASK] w44 [MASK] w48", greedy))
        XCTAssertEqual(got.fills.map(\.position), [3, 5])
        XCTAssertTrue(got.fills.allSatisfy { (2...5).contains($0.ids.count) && $0.ids.allSatisfy { $0 < 102 } })
        XCTAssertGreaterThan(got.seconds, 0)

        // Sampling with a seed, and the default settings (those of glm generate).
        var sampled = GenerationConfig(); sampled.temperature = 1.3; sampled.topK = 0; sampled.topP = 0.95; sampled.seed = 99; sampled.maxNewTokens = 6
        let r2 = try s.post("/v1/fill", ["text": "w7 w8", "temperature": 1.3, "top_k": 0, "top_p": 0.95, "seed": 99, "max_new_tokens": 6])
        XCTAssertEqual(try FilledTextJSON(json: r2.body).untimed, try s.alone("w7 w8", sampled))
        let r3 = try s.post("/v1/fill", ["text": "w20 [MASK] w30"])
        XCTAssertEqual(try FilledTextJSON(json: r3.body).untimed, try s.alone("w20 [MASK] w30", GenerationConfig()))

        // Beam search reports scores; the other settings are passed through.
        var beams = GenerationConfig(); beams.numBeams = 3; beams.lengthPenalty = 0.7; beams.maxNewTokens = 4; beams.noRepeatNgram = 2
        beams.repetitionPenalty = 1.2; beams.earlyStopping = true
        let r4 = try s.post("/v1/fill", ["text": "w40 [MASK] w50 [MASK]", "num_beams": 3, "length_penalty": 0.7, "max_new_tokens": 4,
                                         "no_repeat_ngram": 2, "repetition_penalty": 1.2, "early_stopping": true])
        let b = try FilledTextJSON(json: r4.body)
        XCTAssertEqual(b.untimed, try s.alone("w40 [MASK] w50 [MASK]", beams))
        XCTAssertTrue(b.fills.allSatisfy { $0.score != nil })
    }

    /// The same bytes as the executable prints (one encoder for both), but for `seconds`.
    func testFillEqualsTheGlmGenerateExecutable() throws {
        let glm = try Fixture.glm()
        let s = try TestServer()
        let r = try runProcess(glm, ["generate", "--model", s.folder.path, "--json", "--no-stream", "--greedy", "--max-new-tokens", "4",
                                     "w40 w41 [MASK] w44 [MASK] w48"])
        let printed = Data(r.out.utf8)
        XCTAssertEqual(r.rc, 0)
        let served = try s.post("/v1/fill", ["text": "w40 w41 [MASK] w44 [MASK] w48", "greedy": true, "max_new_tokens": 4])
        func withoutSeconds(_ d: Data) throws -> String {
            var o = try JSONSerialization.jsonObject(with: d) as! [String: Any]
            XCTAssertNotNil(o.removeValue(forKey: "seconds") as? Double)
            return String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
        }
        XCTAssertEqual(try withoutSeconds(served.body), try withoutSeconds(printed))
    }

    func testFillStreamsEveryTokenIntoPlace() throws {
        let s = try TestServer()
        var events: [(String?, [String: Any])] = []
        let body = try JSONSerialization.data(withJSONObject: ["text": "w40 w41 [MASK] w44 [MASK] w48", "greedy": true, "max_new_tokens": 5,
                                                               "min_new_tokens": 2, "stream": true])
        let head = try s.client().events("POST", "/v1/fill", body: body) { name, data in
            events.append((name, try JSONSerialization.jsonObject(with: Data(data.utf8)) as! [String: Any]))
            return true
        }
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.headers["content-type"], "text/event-stream")
        let names = events.map { $0.0 ?? "" }
        XCTAssertEqual(names.first, "start")
        XCTAssertEqual(Array(names.suffix(2)), ["end", "done"])
        let done = try FilledTextJSON(json: try JSONSerialization.data(withJSONObject: events.last!.1))
        var greedy = GenerationConfig(); greedy.greedy = true; greedy.maxNewTokens = 5; greedy.minNewTokens = 2
        XCTAssertEqual(done.untimed, try s.alone("w40 w41 [MASK] w44 [MASK] w48", greedy))

        // One token event per generated id, in order, blank by blank.
        let tokens = events.filter { $0.0 == "token" }.map { $0.1 }
        XCTAssertEqual(tokens.map { $0["id"] as! Int }, done.fills.flatMap(\.ids))
        XCTAssertEqual(tokens.map { $0["blank"] as! Int }, done.fills.enumerated().flatMap { i, f in Array(repeating: i, count: f.ids.count) })
        // The start view is the prompt with its blanks; each token view has the fill so far in its span.
        XCTAssertEqual(events[0].1["text"] as? String, "w40 w41 [MASK] w44 [MASK] w48")
        XCTAssertEqual(events[0].1["blanks"] as? Int, 2)
        for t in tokens {
            let text = t["text"] as! String
            let spans = t["fills"] as! [[String: Int]]
            let current = spans.last!
            XCTAssertEqual(current["blank"], t["blank"] as? Int)
            let u = Array(text.utf16)
            let shown = String(decoding: u[current["start"]!..<current["end"]!], as: UTF16.self)
            XCTAssertTrue(done.fills[current["blank"]!].text.hasPrefix(shown), "\(shown) vs \(done.fills[current["blank"]!].text)")
        }
        // The end view: the final text, every fill's span holding its text.
        let end = events[events.count - 2].1
        XCTAssertEqual(end["text"] as? String, done.text)
        let u = Array(done.text.utf16)
        for span in end["fills"] as! [[String: Int]] {
            XCTAssertEqual(String(decoding: u[span["start"]!..<span["end"]!], as: UTF16.self), done.fills[span["blank"]!].text)
        }
    }

    func testBeamSearchStreamsOnlyTheResult() throws {
        let s = try TestServer()
        var names: [String] = []
        let body = try JSONSerialization.data(withJSONObject: ["text": "w40 [MASK] w50", "num_beams": 2, "max_new_tokens": 3, "stream": true])
        try s.client().events("POST", "/v1/fill", body: body) { name, _ in names.append(name ?? ""); return true }
        XCTAssertEqual(names, ["start", "end", "done"])
    }
}
