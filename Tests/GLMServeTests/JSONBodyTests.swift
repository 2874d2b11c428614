import Foundation
import XCTest
import GLMServe
import GLMSystem

/// The request body parser: RFC 8259, exact integers, errors with a byte offset or a field name.
final class JSONBodyTests: XCTestCase {
    private func parse(_ s: String) throws -> JSONValue { try JSONParser.parseRequestBody(Data(s.utf8)) }

    func testValues() throws {
        XCTAssertEqual(try parse(#" {"a": [1, -2, 3.5, 1e3, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]} "#),
                       .object([("a", .array([.int(1), .int(-2), .double(3.5), .double(1000), .bool(true), .bool(false), .null,
                                              .string("x\"\\/\u{8}\u{c}\n\r\té😀")]))]))
        // Seeds survive exactly, up to 2^64 - 1.
        XCTAssertEqual(try parse("18446744073709551615"), .uint(UInt64.max))
        XCTAssertEqual(try parse("-9223372036854775808"), .int(Int.min))
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse("{}"), .object([]))
        XCTAssertEqual(try parse("\"ü\""), .string("ü"))
    }

    func testMalformedBodiesSayWhere() {
        let bad = ["", "{", "{\"a\" 1}", "[1,]", "01", "1.", "-", "tru", "\"abc", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"",
                   "{\"a\": 1} x", "\"a\nb\"", "[1 2]", "1e999", "{\"a\": 1, \"a\": 2}", String(repeating: "[", count: 33) + String(repeating: "]", count: 33)]
        for s in bad {
            XCTAssertThrowsError(try parse(s), s) { e in
                let a = e as! APIError
                XCTAssertEqual(a.status, 400, s)
                XCTAssertTrue(a.message.contains("byte") || a.param == "a", "\(s): \(a.message)")
            }
        }
        XCTAssertThrowsError(try JSONParser.parseRequestBody(Data([0x22, 0xFF, 0x22]))) { e in
            XCTAssertTrue((e as! APIError).message.contains("UTF-8"))
        }
        // 32 levels are fine.
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 32) + String(repeating: "]", count: 32)))
    }

    func testFieldsAreReadByTypeAndUnknownOnesRejected() throws {
        var f = try RequestFields(Data(#"{"n": 3, "x": 2.5, "s": "hi", "b": true, "z": null, "big": 18446744073709551615, "neg": -1}"#.utf8))
        XCTAssertEqual(try f.int("n"), 3)
        XCTAssertEqual(try f.number("x"), 2.5)
        XCTAssertEqual(try f.number("n"), 3)
        XCTAssertEqual(try f.string("s"), "hi")
        XCTAssertEqual(try f.bool("b"), true)
        XCTAssertNil(try f.int("z"))                 // null reads as absent
        XCTAssertNil(try f.int("missing"))
        XCTAssertEqual(try f.seed("big"), UInt64.max)
        XCTAssertEqual(try f.seed("neg"), UInt64.max)
        XCTAssertNoThrow(try f.rejectUnknown())
        XCTAssertThrowsError(try f.int("x")) { XCTAssertEqual(($0 as! APIError).param, "x") }
        XCTAssertThrowsError(try f.string("n")) { XCTAssertEqual(($0 as! APIError).message, "n: expected a string, got a number") }
        XCTAssertThrowsError(try f.bool("s")) { XCTAssertEqual(($0 as! APIError).param, "s") }
        XCTAssertThrowsError(try f.int("big")) { XCTAssertEqual(($0 as! APIError).param, "big") }

        let g = try RequestFields(Data(#"{"text": "a", "tmeperature": 1}"#.utf8))
        XCTAssertThrowsError(try g.rejectUnknown()) { e in
            XCTAssertEqual((e as! APIError).param, "text")   // alphabetically first of the unread
        }
        XCTAssertThrowsError(try RequestFields(Data("[1]".utf8)))
    }

    func testErrorBodiesAreOpenAIShaped() throws {
        let e = APIError.field("top_p", "must be in [0, 1], got 2")
        let o = try JSONSerialization.jsonObject(with: e.json) as! [String: [String: Any]]
        XCTAssertEqual(o["error"]?["message"] as? String, "top_p: must be in [0, 1], got 2")
        XCTAssertEqual(o["error"]?["param"] as? String, "top_p")
        XCTAssertEqual(o["error"]?["type"] as? String, "invalid_request_error")
        XCTAssertTrue(o["error"]?["code"] is NSNull)
        XCTAssertEqual(APIError(status: 429, "full").type, "rate_limit_error")
        XCTAssertEqual(APIError(status: 401, "key").type, "authentication_error")
    }
}
