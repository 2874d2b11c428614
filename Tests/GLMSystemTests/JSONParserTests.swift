import Foundation
import GLMSystem
import XCTest

/// The shared JSON parser: the same grammar under both rule sets, and exactly the differences the
/// rules name (request bodies refuse what task files read as Python does).
final class JSONParserTests: XCTestCase {
    private func both(_ s: String) throws -> (JSONValue, JSONValue) {
        (try JSONParser.parse(s, rules: .requestBody), try JSONParser.parse(s, rules: .pythonJSON))
    }

    func testTheGrammarIsShared() throws {
        let (a, b) = try both(#" {"z": [1, -0, 2.5e1, "\u00e9\ud83d\ude00"], "a": {"n": 18446744073709551615}} "#)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a, .object([("z", .array([.int(1), .int(0), .double(25), .string("é😀")])),
                                   ("a", .object([("n", .uint(UInt64.max))]))]))
        XCTAssertEqual(a["a"]?["n"], .uint(UInt64.max))
        XCTAssertEqual(a["a"]?.typeName, "an object")
        for rules in [JSONParser.Rules.requestBody, .pythonJSON] {
            for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "tru", "\"\\q\"", "\"\\u12G4\"", "\"\\u+123\"",
                        "[1] 2", "\"a\nb\"", "{\"a\": 1,}"] {
                XCTAssertThrowsError(try JSONParser.parse(bad, rules: rules), bad) { e in
                    XCTAssertTrue("\(e)".contains("at byte"), "\(bad): \(e)")
                }
            }
        }
        XCTAssertThrowsError(try JSONParser.parse("{\"a\": ")) { XCTAssertEqual(($0 as? JSONParser.Failure)?.offset, 6) }
    }

    func testTheRulesDiffer() throws {
        // A repeated key: refused, naming it; or Python's dict (first place, last value).
        XCTAssertThrowsError(try JSONParser.parse(#"{"a": 1, "b": 2, "a": 3}"#, rules: .requestBody)) {
            XCTAssertEqual(($0 as? JSONParser.Failure)?.duplicateKey, "a")
        }
        XCTAssertEqual(try JSONParser.parse(#"{"a": 1, "b": 2, "a": 3}"#, rules: .pythonJSON), .object([("a", .int(3)), ("b", .int(2))]))
        // A lone surrogate: refused, or U+FFFD.
        for s in [#""\ud800""#, #""\udc00x""#, #""\ud800\u0041""#] {
            XCTAssertThrowsError(try JSONParser.parse(s, rules: .requestBody), s) { XCTAssertTrue("\($0)".contains("surrogate")) }
        }
        XCTAssertEqual(try JSONParser.parse(#""\ud800\u0041""#, rules: .pythonJSON), .string("\u{FFFD}A"))
        // A number beyond Double: refused, or infinity as Python's float() gives it.
        XCTAssertThrowsError(try JSONParser.parse("1e999", rules: .requestBody))
        XCTAssertEqual(try JSONParser.parse("-1e999", rules: .pythonJSON), .double(-.infinity))
        // Nesting: 32 levels for requests, 512 for files.
        func nested(_ n: Int) -> String { String(repeating: "[", count: n) + String(repeating: "]", count: n) }
        XCTAssertNoThrow(try JSONParser.parse(nested(32), rules: .requestBody))
        XCTAssertThrowsError(try JSONParser.parse(nested(33), rules: .requestBody))
        XCTAssertNoThrow(try JSONParser.parse(nested(512), rules: .pythonJSON))
        XCTAssertThrowsError(try JSONParser.parse(nested(513), rules: .pythonJSON)) { XCTAssertTrue("\($0)".contains("nested deeper than 512")) }
    }
}
