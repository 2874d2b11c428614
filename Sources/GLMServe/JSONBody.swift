import Foundation
import GLMSystem

extension JSONParser {
    /// Parses a request body by the strict rules of ``JSONParser/Rules/requestBody``: malformed
    /// JSON is a 400 saying at which byte, and a field given twice is an error naming the field.
    public static func parseRequestBody(_ data: Data) throws(APIError) -> JSONValue {
        do { return try parse(data, rules: .requestBody) } catch {
            if let key = error.duplicateKey { throw APIError.field(key, "the field appears twice") }
            throw APIError(status: 400, "malformed JSON at byte \(error.offset): \(error.reason)", code: "invalid_json")
        }
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
        guard case let .object(o) = try JSONParser.parseRequestBody(data) else {
            throw APIError(status: 400, "the request body must be a JSON object", code: "invalid_json")
        }
        values = Dictionary(o.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    mutating func value(_ k: String) -> JSONValue? {
        read.insert(k)
        guard let v = values[k], v != .null else { return nil }
        return v
    }

    public mutating func string(_ k: String) throws(APIError) -> String? {
        guard let v = value(k) else { return nil }
        guard case let .string(s) = v else { throw .field(k, "expected a string, got \(v.typeName)") }
        return s
    }

    public mutating func bool(_ k: String) throws(APIError) -> Bool? {
        guard let v = value(k) else { return nil }
        guard case let .bool(x) = v else { throw .field(k, "expected true or false, got \(v.typeName)") }
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
        default: throw .field(k, "expected an integer, got \(v.typeName)")
        }
    }

    public mutating func number(_ k: String) throws(APIError) -> Double? {
        guard let v = value(k) else { return nil }
        switch v {
        case let .int(x): return Double(x)
        case let .uint(x): return Double(x)
        case let .double(x): return x
        default: throw .field(k, "expected a number, got \(v.typeName)")
        }
    }

    /// A seed: any integer in 0…2⁶⁴−1, or a negative 64-bit one (its bit pattern).
    public mutating func seed(_ k: String) throws(APIError) -> UInt64? {
        guard let v = value(k) else { return nil }
        switch v {
        case let .int(x): return UInt64(bitPattern: Int64(x))
        case let .uint(x): return x
        default: throw .field(k, "expected an integer, got \(v.typeName)")
        }
    }

    /// Throws for the first field (alphabetically) that was never read.
    public func rejectUnknown() throws(APIError) {
        if let k = values.keys.filter({ !read.contains($0) }).sorted().first {
            throw APIError.field(k, "unknown field")
        }
    }
}
