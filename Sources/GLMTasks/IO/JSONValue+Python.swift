import Foundation
import GLMSystem

/// The text Python makes of what `json.loads` returned (the official readers build labels, guids and
/// prediction files with `str()` and `json.dumps`); the parsing itself is GLMSystem's ``JSONParser``.
extension JSONValue {
    /// Python's `str(value)` of what `json.loads` returned: `True`, `3`, `1.5`, the string itself.
    /// The official readers build labels and guids with it (e.g. WSC `str(label)` → `"True"`).
    public var pythonStr: String {
        switch self {
        case .null: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case let .uint(u): return String(u)
        case let .double(d): return PythonFloat.repr(d)
        case let .string(s): return s
        case .array, .object: return JSONValue.serialize(self)
        }
    }

    /// Compact JSON text of a value (keys in order).
    public static func serialize(_ v: JSONValue) -> String {
        var out = ""
        write(v, into: &out)
        return out
    }

    private static func write(_ v: JSONValue, into out: inout String) {
        switch v {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .uint(u): out += String(u)
        case let .double(d): out += d.isFinite ? PythonFloat.repr(d) : "null"
        case let .string(s): out += quote(s)
        case let .array(a):
            out += "["
            for (i, x) in a.enumerated() { if i > 0 { out += ", " }; write(x, into: &out) }
            out += "]"
        case let .object(o):
            out += "{"
            for (i, p) in o.enumerated() { if i > 0 { out += ", " }; out += quote(p.key) + ": "; write(p.value, into: &out) }
            out += "}"
        }
    }
}

/// Python's `repr(float)` for the few places a JSON float becomes text (shortest round-trip digits).
enum PythonFloat {
    static func repr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d == d.rounded() && abs(d) < 1e16 { return String(format: "%.1f", d) }
        return "\(d)"
    }
}
