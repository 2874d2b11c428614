import Foundation

/// A JSON value as a request sent it. Integers keep their exact value (a 64-bit seed survives).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// What a type error says it got.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .uint, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A strict RFC 8259 parser for request bodies: nesting is limited (deep nesting is refused, not
/// a stack overflow), and malformed input gets an error with its byte offset.
public struct JSONParser {
    /// Deepest nesting of arrays and objects accepted.
    public static let maxDepth = 32

    private let b: [UInt8]
    private var i = 0

    /// Parses one JSON value filling all of `data` (whitespace around it allowed).
    public static func parse(_ data: Data) throws(APIError) -> JSONValue {
        var p = JSONParser(b: [UInt8](data))
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.b.count else { throw p.fail("unexpected text after the JSON value") }
        return v
    }

    private init(b: [UInt8]) { self.b = b }

    private func fail(_ what: String) -> APIError {
        APIError(status: 400, "malformed JSON at byte \(i): \(what)", code: "invalid_json")
    }

    private mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    private mutating func literal(_ word: String, _ v: JSONValue) throws(APIError) -> JSONValue {
        let w = Array(word.utf8)
        guard i + w.count <= b.count, Array(b[i..<(i + w.count)]) == w else { throw fail("expected a value") }
        i += w.count
        return v
    }

    private mutating func value(depth: Int) throws(APIError) -> JSONValue {
        guard i < b.count else { throw fail("unexpected end of the body") }
        switch b[i] {
        case UInt8(ascii: "{"):
            guard depth < Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
            i += 1
            var obj: [String: JSONValue] = [:]
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
            while true {
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a field name in quotes") }
                let key = try string()
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':' after \"\(key)\"") }
                i += 1
                skipSpace()
                guard obj[key] == nil else { throw APIError.field(key, "the field appears twice") }
                obj[key] = try value(depth: depth + 1)
                skipSpace()
                guard i < b.count else { throw fail("unexpected end of the body") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
            i += 1
            var arr: [JSONValue] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
            while true {
                skipSpace()
                arr.append(try value(depth: depth + 1))
                skipSpace()
                guard i < b.count else { throw fail("unexpected end of the body") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number()
        default:
            throw fail("expected a value")
        }
    }

    private mutating func number() throws(APIError) -> JSONValue {
        let start = i
        func digits() -> Int {
            let s = i
            while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) { i += 1 }
            return i - s
        }
        if b[i] == UInt8(ascii: "-") { i += 1 }
        let intStart = i
        guard digits() > 0 else { throw fail("expected digits") }
        guard !(b[intStart] == UInt8(ascii: "0") && i - intStart > 1) else { throw fail("a number cannot start with 0") }
        var integral = true
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            integral = false
            guard digits() > 0 else { throw fail("expected digits after '.'") }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            integral = false
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw fail("expected digits in the exponent") }
        }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        if integral {
            if let v = Int64(text) { return .int(v) }
            if let v = UInt64(text) { return .uint(v) }
        }
        guard let d = Double(text), d.isFinite else { throw fail("the number \(text) is out of range") }
        return .double(d)
    }

    private mutating func hex4() throws(APIError) -> UInt32 {
        guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<(i + 4)], as: UTF8.self), radix: 16) else {
            throw fail("expected 4 hex digits after \\u")
        }
        i += 4
        return v
    }

    private mutating func string() throws(APIError) -> String {
        i += 1   // opening quote
        var out: [UInt8] = []
        while true {
            guard i < b.count else { throw fail("unterminated string") }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw fail("control character in a string (escape it)") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw fail("unterminated string") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var u = try hex4()
                if (0xD800..<0xDC00).contains(u) {
                    // A high surrogate must be followed by an escaped low one.
                    guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw fail("unpaired surrogate \\u\(String(u, radix: 16))") }
                    i += 2
                    let lo = try hex4()
                    guard (0xDC00..<0xE000).contains(lo) else { throw fail("unpaired surrogate \\u\(String(u, radix: 16))") }
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..<0xE000).contains(u) {
                    throw fail("unpaired surrogate \\u\(String(u, radix: 16))")
                }
                guard let scalar = Unicode.Scalar(u) else { throw fail("invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw fail("unknown escape \\\(Character(Unicode.Scalar(e)))")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("the string is not valid UTF-8") }
        return s
    }
}

/// The fields of a request's JSON object, read by name and type; every error names the field.
/// Fields never read are reported by ``rejectUnknown()``, so a misspelt setting is an error rather
/// than silently ignored. `null` reads as absent.
public struct RequestFields {
    public let values: [String: JSONValue]
    private var read: Set<String> = []

    /// Parses `data`, which must be one JSON object.
    public init(_ data: Data) throws(APIError) {
        guard case let .object(o) = try JSONParser.parse(data) else {
            throw APIError(status: 400, "the request body must be a JSON object", code: "invalid_json")
        }
        values = o
    }

    mutating func value(_ k: String) -> JSONValue? {
        read.insert(k)
        guard let v = values[k], v != .null else { return nil }
        return v
    }

    public mutating func string(_ k: String) throws(APIError) -> String? {
        guard let v = value(k) else { return nil }
        guard case let .string(s) = v else { throw .field(k, "expected a string, got \(v.kind)") }
        return s
    }

    public mutating func bool(_ k: String) throws(APIError) -> Bool? {
        guard let v = value(k) else { return nil }
        guard case let .bool(x) = v else { throw .field(k, "expected true or false, got \(v.kind)") }
        return x
    }

    /// An integer that fits `Int` (a number with a fraction is an error).
    public mutating func int(_ k: String) throws(APIError) -> Int? {
        guard let v = value(k) else { return nil }
        return try Self.int(v, k)
    }

    static func int(_ v: JSONValue, _ k: String) throws(APIError) -> Int {
        switch v {
        case let .int(x): return Int(x)
        case .uint: throw .field(k, "the number is too large")
        case .double: throw .field(k, "expected an integer, got a number with a fraction or exponent")
        default: throw .field(k, "expected an integer, got \(v.kind)")
        }
    }

    public mutating func number(_ k: String) throws(APIError) -> Double? {
        guard let v = value(k) else { return nil }
        switch v {
        case let .int(x): return Double(x)
        case let .uint(x): return Double(x)
        case let .double(x): return x
        default: throw .field(k, "expected a number, got \(v.kind)")
        }
    }

    /// A seed: any integer in 0…2⁶⁴−1, or a negative 64-bit one (its bit pattern).
    public mutating func seed(_ k: String) throws(APIError) -> UInt64? {
        guard let v = value(k) else { return nil }
        switch v {
        case let .int(x): return UInt64(bitPattern: x)
        case let .uint(x): return x
        default: throw .field(k, "expected an integer, got \(v.kind)")
        }
    }

    /// Throws for the first field (alphabetically) that was never read.
    public func rejectUnknown() throws(APIError) {
        if let k = values.keys.filter({ !read.contains($0) }).sorted().first {
            throw APIError.field(k, "unknown field")
        }
    }
}
