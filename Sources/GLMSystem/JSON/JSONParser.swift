import Foundation

/// The one JSON parser for hand-checked input (RFC 8259 over UTF-8 bytes), with a nesting limit so
/// hostile input cannot exhaust the stack and errors that give the byte offset where parsing stopped.
///
/// Its users differ only in a few ``Rules``: API request bodies (GLMServe) refuse anything a client
/// could not have meant (``Rules/requestBody``); task files (GLMTasks) are read as Python's
/// `json.loads` reads them, since the official readers do (``Rules/pythonJSON``).
public struct JSONParser {
    /// Why a text is not JSON, with the byte offset where parsing stopped.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let offset: Int
        public let reason: String
        /// The repeated key, when the failure is a key given twice under ``Rules/DuplicateKeys/reject``.
        public let duplicateKey: String?

        public init(offset: Int, reason: String, duplicateKey: String? = nil) {
            self.offset = offset; self.reason = reason; self.duplicateKey = duplicateKey
        }

        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// What differs between readers of JSON.
    public struct Rules: Sendable {
        /// What a key given twice in one object does.
        public enum DuplicateKeys: Sendable {
            /// The key is an error (``Failure/duplicateKey`` names it).
            case reject
            /// The key keeps its first place and its last value (Python's `dict`).
            case keepLast
        }

        /// Deepest nesting of arrays and objects accepted.
        public var maxDepth: Int
        public var duplicateKeys: DuplicateKeys
        /// Whether a `\u` escape of an unpaired UTF-16 surrogate is an error, or becomes U+FFFD
        /// (Python keeps it in its `str`; a Swift `String` cannot hold one).
        public var rejectsLoneSurrogates: Bool
        /// Whether a number too large for a `Double` (`1e999`) is an error, or reads as ±infinity
        /// (Python's `float('1e999')`).
        public var rejectsOverflow: Bool

        public init(maxDepth: Int, duplicateKeys: DuplicateKeys, rejectsLoneSurrogates: Bool, rejectsOverflow: Bool) {
            self.maxDepth = maxDepth; self.duplicateKeys = duplicateKeys
            self.rejectsLoneSurrogates = rejectsLoneSurrogates; self.rejectsOverflow = rejectsOverflow
        }

        /// API request bodies: 32 levels, and a repeated field, a lone surrogate or an overflowing
        /// number is refused rather than guessed at.
        public static let requestBody = Rules(maxDepth: 32, duplicateKeys: .reject, rejectsLoneSurrogates: true, rejectsOverflow: true)
        /// Data files as Python's `json.loads` reads them (apart from its NaN/Infinity literals),
        /// 512 levels deep at most.
        public static let pythonJSON = Rules(maxDepth: 512, duplicateKeys: .keepLast, rejectsLoneSurrogates: false, rejectsOverflow: false)
    }

    /// Parses one JSON document; only whitespace may follow it.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, rules: Rules = .pythonJSON) throws(Failure) -> JSONValue {
        var p = JSONParser(bytes: bytes, rules: rules)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.fail("unexpected text after the JSON value") }
        return v
    }

    /// Parses one JSON document from `data`.
    public static func parse(_ data: Data, rules: Rules = .pythonJSON) throws(Failure) -> JSONValue {
        let r: Result<JSONValue, Failure> = data.withUnsafeBytes { raw in
            Result { () throws(Failure) -> JSONValue in try parse(raw.bindMemory(to: UInt8.self), rules: rules) }
        }
        return try r.get()
    }

    /// Parses one JSON document from `text`.
    public static func parse(_ text: String, rules: Rules = .pythonJSON) throws(Failure) -> JSONValue {
        var s = text
        let r: Result<JSONValue, Failure> = s.withUTF8 { b in
            Result { () throws(Failure) -> JSONValue in try parse(b, rules: rules) }
        }
        return try r.get()
    }

    private let b: UnsafeBufferPointer<UInt8>
    private let rules: Rules
    private var i = 0

    private init(bytes: UnsafeBufferPointer<UInt8>, rules: Rules) { b = bytes; self.rules = rules }

    private func fail(_ reason: String) -> Failure { Failure(offset: i, reason: reason) }

    private mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    private mutating func value(depth: Int) throws(Failure) -> JSONValue {
        guard i < b.count else { throw fail("unexpected end of input") }
        switch b[i] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < rules.maxDepth else { throw fail("nested deeper than \(rules.maxDepth) levels") }
            return b[i] == UInt8(ascii: "{") ? try object(depth: depth) : try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("expected a value, found '\(Character(Unicode.Scalar(b[i])))'")
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw fail("expected a value") }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { throw fail("expected a value") }
        i += n
    }

    private mutating func object(depth: Int) throws(Failure) -> JSONValue {
        i += 1
        var pairs: [(key: String, value: JSONValue)] = []
        var index: [String: Int] = [:]
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
        while true {
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a field name in quotes") }
            let key = try string()
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':' after \"\(key)\"") }
            i += 1
            skipSpace()
            if index[key] != nil, rules.duplicateKeys == .reject {
                throw Failure(offset: i, reason: "the field \"\(key)\" appears twice", duplicateKey: key)
            }
            let v = try value(depth: depth + 1)
            if let k = index[key] { pairs[k].value = v } else { index[key] = pairs.count; pairs.append((key, v)) }
            skipSpace()
            guard i < b.count else { throw fail("unexpected end of input in an object") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws(Failure) -> JSONValue {
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard i < b.count else { throw fail("unexpected end of input in an array") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard i + 4 <= b.count else { throw fail("expected 4 hex digits after \\u") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("expected 4 hex digits after \\u")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    private mutating func string() throws(Failure) -> String {
        i += 1   // opening quote
        var bytes: [UInt8] = []
        var start = i
        while true {
            guard i < b.count else { throw fail("unterminated string") }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<i]))
                i += 1
                break
            }
            if c < 0x20 { throw fail("control character in a string (escape it)") }
            if c != UInt8(ascii: "\\") { i += 1; continue }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<i]))
            i += 1
            guard i < b.count else { throw fail("unterminated string") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C)
            case UInt8(ascii: "/"): bytes.append(0x2F)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if (0xD800..<0xDC00).contains(v), i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                    let save = i
                    i += 2
                    let lo = try hex4()
                    if (0xDC00..<0xE000).contains(lo) { v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00) } else { i = save }
                }
                if (0xD800..<0xE000).contains(v), rules.rejectsLoneSurrogates {
                    throw fail("unpaired surrogate \\u\(String(v, radix: 16))")
                }
                let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
                bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw fail("unknown escape \\\(Character(Unicode.Scalar(e)))")
            }
            start = i
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw fail("the string is not valid UTF-8") }
        return s
    }

    private mutating func number() throws(Failure) -> JSONValue {
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
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if integral {
            if let v = Int(text) { return .int(v) }
            if let v = UInt64(text) { return .uint(v) }
        }
        // Integers beyond 64 bits (Python keeps them exact) are read as floats.
        guard let d = Double(text), d.isFinite || !rules.rejectsOverflow else {
            throw Failure(offset: start, reason: "the number \(text) is out of range")
        }
        return .double(d)
    }
}
