import Foundation
import XCTest
import GLMServe

/// `/health`, `/v1/models`, `/metrics` and the page.
final class InfoEndpointsTests: XCTestCase {
    func testHealthModelsPageAndMetrics() throws {
        let s = try TestServer()
        let h = try s.get("/health")
        XCTAssertEqual(h.status, 200)
        XCTAssertEqual(h.json?["status"] as? String, "ok")
        XCTAssertEqual(h.json?["model"] as? String, "tiny")
        XCTAssertEqual(h.json?["api_key_required"] as? Bool, false)

        let m = try s.get("/v1/models")
        XCTAssertEqual(m.status, 200)
        XCTAssertEqual(m.json?["object"] as? String, "list")
        let data = m.json?["data"] as? [[String: Any]]
        XCTAssertEqual(data?.count, 1)
        XCTAssertEqual(data?[0]["id"] as? String, "tiny")
        XCTAssertEqual(data?[0]["object"] as? String, "model")
        XCTAssertEqual(data?[0]["max_sequence_length"] as? Int, 32)
        XCTAssertNotNil(data?[0]["created"] as? Int)
        XCTAssertEqual(try s.get("/v1/models/tiny").json?["id"] as? String, "tiny")
        let other = try s.get("/v1/models/gpt-4")
        XCTAssertEqual(other.status, 404)
        XCTAssertEqual((other.json?["error"] as? [String: Any])?["code"] as? String, "model_not_found")

        let page = try s.get("/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertTrue(page.text.contains("<textarea id=\"text\""))
        XCTAssertTrue(page.text.contains("/v1/fill"))

        XCTAssertEqual(try s.post("/v1/fill", ["text": "w5 [MASK]", "greedy": true, "min_new_tokens": 3, "max_new_tokens": 3]).status, 200)
        XCTAssertEqual(try s.post("/v1/fill", ["text": 1]).status, 400)
        let metrics = try s.get("/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") ?? false)
        let text = metrics.text
        for line in ["glm_model_info{model=\"tiny\"} 1",
                     "glm_http_requests_total{endpoint=\"/health\",status=\"200\"} 1",
                     "glm_http_requests_total{endpoint=\"/v1/fill\",status=\"200\"} 1",
                     "glm_http_requests_total{endpoint=\"/v1/fill\",status=\"400\"} 1",
                     "glm_http_errors_total{endpoint=\"/v1/fill\",status=\"400\"} 1",
                     "glm_http_errors_total{endpoint=\"/v1/models\",status=\"404\"} 1",
                     "glm_http_request_duration_seconds_count{endpoint=\"/v1/fill\"} 2",
                     "glm_http_request_duration_seconds_bucket{endpoint=\"/v1/fill\",le=\"+Inf\"} 2",
                     "glm_decode_queue_length 0", "glm_decode_active 0", "glm_decode_rows 8",
                     "glm_generated_tokens_total 3", "glm_decode_cancelled_total 0", "glm_decode_timeouts_total 0"] {
            XCTAssertTrue(text.contains(line + "\n"), "missing: \(line)\n\(text)")
        }
        XCTAssertTrue(text.contains("# TYPE glm_http_request_duration_seconds histogram"))
        let rate = text.split(separator: "\n").first { $0.hasPrefix("glm_generated_tokens_per_second ") }
        XCTAssertGreaterThan(Double(rate?.split(separator: " ").last ?? "") ?? 0, 0)
        // Histogram buckets are cumulative.
        let buckets = text.split(separator: "\n").filter { $0.hasPrefix("glm_http_request_duration_seconds_bucket{endpoint=\"/v1/fill\"") }
            .map { Int($0.split(separator: " ").last!)! }
        XCTAssertEqual(buckets, buckets.sorted())
    }
}
