import Foundation
import GLMSystem

/// Comma-separated files with a header row (RFC 4180, as Python's `csv` module reads them: quoted
/// fields may hold commas, doubled quotes and line breaks). Each row becomes an object record keyed
/// by the header, so CSV and JSON-lines task files go through the same field checks.
public enum CSVReader {
    /// The rows of `url` after its header, each with the line it starts on.
    public static func records(_ url: URL) throws -> [TaskField] {
        let text = try TaskFile.text(url)
        let rows = try parse(text, file: url.path)
        guard let header = rows.first else { throw TaskError.data(file: url.path, line: nil, message: "empty file: no header row") }
        var seen = Set<String>()
        for name in header.fields {
            guard !name.isEmpty else { throw TaskError.data(file: url.path, line: header.line, message: "the header has an empty column name") }
            guard seen.insert(name).inserted else {
                throw TaskError.data(file: url.path, line: header.line, message: "the header names column \"\(name)\" twice")
            }
        }
        var out: [TaskField] = []
        for row in rows.dropFirst() {
            if row.fields.count == 1 && row.fields[0].isEmpty { continue }  // blank line
            guard row.fields.count == header.fields.count else {
                throw TaskError.data(file: url.path, line: row.line,
                                     message: "\(row.fields.count) columns, but the header has \(header.fields.count)")
            }
            let obj = JSONValue.object(zip(header.fields, row.fields).map { ($0, .string($1)) })
            out.append(TaskField(file: url.path, line: row.line, value: obj))
        }
        guard !out.isEmpty else { throw TaskError.data(file: url.path, line: nil, message: "empty file: no rows after the header") }
        return out
    }

    /// Rows of fields, each with its 1-based starting line.
    static func parse(_ text: String, file: String) throws -> [(line: Int, fields: [String])] {
        var rows: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var line = 1, rowLine = 1
        var inQuotes = false, quotedField = false, any = false
        var it = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return it.next()
        }
        func endRow() {
            fields.append(String(field)); field = .init()
            rows.append((rowLine, fields)); fields = []
            quotedField = false; any = false
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let d = next() {
                        if d == "\"" { field.append("\"") } else { inQuotes = false; pending = d }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty && !quotedField:
                inQuotes = true; quotedField = true; any = true
            case ",":
                fields.append(String(field)); field = .init(); quotedField = false; any = true
            case "\r":
                if let d = next(), d != "\n" { pending = d }
                endRow(); line += 1; rowLine = line
            case "\n":
                endRow(); line += 1; rowLine = line
            default:
                if quotedField {
                    throw TaskError.data(file: file, line: line, message: "text after a closing quote (write a quote inside a quoted field as \"\")")
                }
                field.append(c); any = true
            }
        }
        if inQuotes { throw TaskError.data(file: file, line: rowLine, message: "a quoted field is never closed") }
        if any || !field.isEmpty || !fields.isEmpty { endRow() }
        return rows
    }
}
