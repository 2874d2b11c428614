import Foundation
import GLMSystem

/// Why a tokenizer could not be loaded. Every case names the file so that a user with a broken
/// download knows which file to fetch again.
public enum TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The folder holds none of the files a tokenizer is built from.
    case noTokenizerFiles(folder: String)
    /// A file that the tokenizer needs does not exist or cannot be read.
    case unreadable(file: String, reason: String)
    /// A file exists but its contents are not what its format requires.
    case malformed(file: String, line: Int?, reason: String)
    /// A token that the GLM layer needs (e.g. `[MASK]` in a BERT vocab) is missing from the vocab.
    case missingToken(file: String, token: String)
    /// The file is well formed but uses a feature this implementation does not provide.
    case unsupported(file: String, feature: String)

    public var description: String {
        switch self {
        case .noTokenizerFiles(let folder):
            return "\(folder): no tokenizer files found (expected vocab.txt, vocab.json + merges.txt, encoder.json + vocab.bpe, tokenizer.json or a SentencePiece *.model)"
        case .unreadable(let file, let reason):
            return "\(file): cannot read: \(reason)"
        case .malformed(let file, let line, let reason):
            if let line { return "\(file):\(line): malformed: \(reason)" }
            return "\(file): malformed: \(reason)"
        case .missingToken(let file, let token):
            return "\(file): the vocabulary has no entry \(token)"
        case .unsupported(let file, let feature):
            return "\(file): unsupported: \(feature)"
        }
    }
}

enum FileIO {
    /// Reads a whole file, turning Foundation's untyped errors into ``TokenizerError``.
    static func read(_ url: URL) throws -> Data {
        do { return try MappedFile.read(url) } catch let e as SystemError {
            if case .notFound = e { throw TokenizerError.unreadable(file: url.path, reason: "no such file") }
            throw TokenizerError.unreadable(file: url.path, reason: e.reason)
        }
    }

    /// Reads a UTF-8 text file; invalid UTF-8 in a vocab file is an error, not something to repair,
    /// because a repaired vocab would silently shift ids.
    static func readText(_ url: URL) throws -> String {
        let data = try read(url)
        guard let s = String(data: data, encoding: .utf8) else {
            throw TokenizerError.malformed(file: url.path, line: nil, reason: "not valid UTF-8")
        }
        return s
    }

    /// The lines of a text file the way Python's text mode reads them (universal newlines): `\n`,
    /// `\r\n` and a lone `\r` each end a line, and the terminators are not part of the line. (Swift's
    /// `split(separator: "\n")` would keep a CRLF file as one line: `"\r\n"` is one `Character`.)
    static func lines(_ text: String) -> [Substring] {
        var out: [Substring] = []
        let scalars = text.unicodeScalars
        var start = scalars.startIndex, i = start
        while i < scalars.endIndex {
            let c = scalars[i]
            if c == "\n" || c == "\r" {
                out.append(Substring(scalars[start..<i]))
                var next = scalars.index(after: i)
                if c == "\r", next < scalars.endIndex, scalars[next] == "\n" { next = scalars.index(after: next) }
                start = next
                i = next
            } else {
                i = scalars.index(after: i)
            }
        }
        out.append(Substring(scalars[start...]))
        return out
    }

    static func readJSON(_ url: URL) throws -> Any {
        let data = try read(url)
        do { return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw TokenizerError.malformed(file: url.path, line: nil, reason: "not valid JSON (\(error.localizedDescription))")
        }
    }
}
