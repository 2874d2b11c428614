import Foundation

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
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TokenizerError.unreadable(file: url.path, reason: "no such file")
        }
        do { return try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadable(file: url.path, reason: "\(error.localizedDescription)")
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

    static func readJSON(_ url: URL) throws -> Any {
        let data = try read(url)
        do { return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw TokenizerError.malformed(file: url.path, line: nil, reason: "not valid JSON (\(error.localizedDescription))")
        }
    }
}
