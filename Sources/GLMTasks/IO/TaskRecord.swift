import Foundation
import GLMSystem

/// A value inside one record of a task file, with where it sits (file, line, field path), so that a
/// missing or mistyped field is reported as `val.jsonl:12: missing field "passage.questions[0].idx"`.
public struct TaskField: Sendable {
    public let file: String
    public let line: Int
    /// Dotted path from the record's root (`""` for the root itself).
    public let path: String
    public let value: JSONValue

    public init(file: String, line: Int, path: String = "", value: JSONValue) {
        self.file = file; self.line = line; self.path = path; self.value = value
    }

    /// An error at this record's line.
    public func error(_ message: String) -> TaskError { .data(file: file, line: line, message: message) }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    private var shownPath: String { path.isEmpty ? "the record" : "field \"\(path)\"" }

    /// The field `key` of this object; a missing field is an error naming it.
    public func at(_ key: String) throws -> TaskField {
        guard case .object = value else { throw error("\(shownPath) must be an object, got \(value.typeName)") }
        guard let v = value[key] else { throw error("missing field \"\(childPath(key))\"") }
        return TaskField(file: file, line: line, path: childPath(key), value: v)
    }

    /// The field `key`, or nil when it is absent or null (Python's `json.get(key)`).
    public func optional(_ key: String) throws -> TaskField? {
        guard case .object = value else { throw error("\(shownPath) must be an object, got \(value.typeName)") }
        guard let v = value[key], v != .null else { return nil }
        return TaskField(file: file, line: line, path: childPath(key), value: v)
    }

    /// Whether the object has `key` (Python's `key in json`, null included).
    public func has(_ key: String) -> Bool { value[key] != nil }

    public func string() throws -> String {
        guard case let .string(s) = value else { throw error("\(shownPath) must be a string, got \(value.typeName)") }
        return s
    }

    public func int() throws -> Int {
        guard case let .int(i) = value else { throw error("\(shownPath) must be an integer, got \(value.typeName)") }
        return i
    }

    public func number() throws -> Double {
        switch value {
        case let .int(i): return Double(i)
        case let .uint(u): return Double(u)
        case let .double(d): return d
        default: throw error("\(shownPath) must be a number, got \(value.typeName)")
        }
    }

    public func array() throws -> [TaskField] {
        guard case let .array(a) = value else { throw error("\(shownPath) must be a list, got \(value.typeName)") }
        return a.enumerated().map { TaskField(file: file, line: line, path: "\(path)[\($0.offset)]", value: $0.element) }
    }

    /// The key/value pairs of an object, in file order.
    public func pairs() throws -> [(key: String, value: TaskField)] {
        guard case let .object(o) = value else { throw error("\(shownPath) must be an object, got \(value.typeName)") }
        return o.map { ($0.key, TaskField(file: file, line: line, path: childPath($0.key), value: $0.value)) }
    }
}

/// Reading task files: JSON lines (the SuperGLUE release), one JSON document (BIG-bench), text.
public enum TaskFile {
    /// The bytes of `url`, or a ``TaskError`` naming the file.
    public static func read(_ url: URL) throws -> Data {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw TaskError.data(file: url.path, line: nil, message: "no such file")
        }
        guard !isDir.boolValue else { throw TaskError.data(file: url.path, line: nil, message: "is a folder, not a file") }
        do { return try Data(contentsOf: url) } catch {
            throw TaskError.data(file: url.path, line: nil, message: "cannot read: \(error.localizedDescription)")
        }
    }

    /// The text of `url`; invalid UTF-8 is an error (the official readers open files as UTF-8).
    public static func text(_ url: URL) throws -> String {
        let data = try read(url)
        guard let s = String(validating: data, as: UTF8.self) else {
            throw TaskError.data(file: url.path, line: nil, message: "not valid UTF-8")
        }
        return s
    }

    /// One JSON object per line (blank lines skipped), each with its 1-based line number. A file
    /// without any record is an error: training on nothing is never what was meant.
    public static func jsonLines(_ url: URL) throws -> [TaskField] {
        let data = try read(url)
        var out: [TaskField] = []
        try data.withUnsafeBytes { raw in
            let b = raw.bindMemory(to: UInt8.self)
            var start = 0, line = 0
            while start < b.count {
                var end = start
                while end < b.count, b[end] != 0x0A { end += 1 }
                line += 1
                let slice = UnsafeBufferPointer(rebasing: b[start..<end])
                if slice.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0D) }) {
                    do {
                        out.append(TaskField(file: url.path, line: line, value: try JSONParser.parse(slice)))
                    } catch {
                        throw TaskError.data(file: url.path, line: line, message: "not valid JSON: \(error)")
                    }
                }
                start = end + 1
            }
        }
        guard !out.isEmpty else { throw TaskError.data(file: url.path, line: nil, message: "empty file: no examples") }
        return out
    }

    /// A whole-file JSON document (line 1 in messages).
    public static func json(_ url: URL) throws -> TaskField {
        let data = try read(url)
        guard data.contains(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else {
            throw TaskError.data(file: url.path, line: nil, message: "empty file")
        }
        do { return TaskField(file: url.path, line: 1, value: try JSONParser.parse(data)) } catch {
            throw TaskError.data(file: url.path, line: nil, message: "not valid JSON: \(error)")
        }
    }
}
