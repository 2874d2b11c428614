import Foundation
import GLMTokenizers

/// Everything that can go wrong reading, writing or using shard folders and collator settings.
///
/// Each case names the file or field at fault, because these errors reach users of `glm prepare`,
/// `glm batches` and `glm pretrain` directly.
public enum GLMDataError: Error, Equatable, CustomStringConvertible, Sendable {
    case inputNotFound(path: String)
    case noInputs
    case unreadable(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case missingManifest(folder: String)
    case badManifest(path: String, reason: String)
    case unsupportedFormatVersion(path: String, found: Int, supported: Int)
    case shardSizeMismatch(path: String, expectedBytes: Int, actualBytes: Int)
    case badIndex(path: String, reason: String)
    case tokenizerMismatch(folder: String, expected: String, found: String)
    case tokenizerMissing(folder: String, recordedPath: String, identity: String)
    case tokenizerFolderNotFound(path: String, shardFolder: String)
    case tokenIdOutOfRange(id: Int, vocabSize: Int, document: String)
    case emptyDataset(folder: String)
    case invalidConfig(field: String, reason: String)
    case missingCommandToken(name: String, neededBy: String)
    case mmapFailed(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .inputNotFound(let p): return "input not found: \(p)"
        case .noInputs: return "no input files were given (pass files, folders or .jsonl files with --input)"
        case .unreadable(let p, let r): return "cannot read \(p): \(r)"
        case .cannotWrite(let p, let r): return "cannot write \(p): \(r)"
        case .missingManifest(let f):
            return "\(f) is not a shard folder: it has no manifest.json (create one with `glm prepare`)"
        case .badManifest(let p, let r): return "bad manifest \(p): \(r)"
        case .unsupportedFormatVersion(let p, let f, let s):
            return "\(p): shard format version \(f) is not supported (this build reads version \(s))"
        case .shardSizeMismatch(let p, let e, let a):
            return "\(p): expected \(e) bytes from the manifest but the file has \(a) (truncated or overwritten shard)"
        case .badIndex(let p, let r): return "bad document index \(p): \(r)"
        case .tokenizerMismatch(let f, let e, let found):
            return "tokenizer mismatch for shard folder \(f): the shards were made with tokenizer '\(found)' but the given tokenizer is '\(e)'"
        case .tokenizerMissing(let f, let p, let id):
            return "shard folder \(f) was prepared with the tokenizer at \(p) (identity '\(id)'), which is missing; pass --tokenizer <folder>"
        case .tokenizerFolderNotFound(let p, let f):
            return "tokenizer folder \(p), given for shard folder \(f), does not exist"
        case .tokenIdOutOfRange(let id, let v, let d):
            return "the tokenizer produced id \(id), outside its vocabulary of \(v) tokens, for \(d)"
        case .emptyDataset(let f): return "shard folder \(f) holds no tokens (every input was empty or skipped)"
        case .invalidConfig(let field, let r): return "invalid data setting \(field): \(r)"
        case .missingCommandToken(let n, let by):
            return "the tokenizer has no \(n) token, which \(by) needs"
        case .mmapFailed(let p, let e): return "cannot memory-map \(p) (errno \(e))"
        }
    }
}

/// The tokenizer as the data pipeline sees it: how to encode text, the command-token ids, the id →
/// string table used to find sentence ends, and an identity string recorded in every shard manifest.
///
/// `GLMData` does not depend on a particular tokenizer type; the `glm` CLI builds one of these from
/// `GLMTokenizer` (family + vocab hash as identity). Tests build one from any ``TextTokenizer``.
public struct DataTokenizer: Sendable {
    /// Family plus a hash of the vocabulary files; shards made with another identity are rejected.
    public var identity: String
    /// Number of ids the tokenizer can emit (text vocabulary plus command tokens).
    public var numTokens: Int
    public var commands: CommandTokens
    public var encode: @Sendable (String) -> [Int]
    public var decode: @Sendable ([Int]) -> String
    public var tokenString: @Sendable (Int) -> String?
    /// Where the tokenizer was loaded from, recorded in the manifest so `glm batches` can find it.
    public var folder: String?

    public init(identity: String, numTokens: Int, commands: CommandTokens, folder: String? = nil,
                encode: @escaping @Sendable (String) -> [Int], decode: @escaping @Sendable ([Int]) -> String,
                tokenString: @escaping @Sendable (Int) -> String?) {
        self.identity = identity; self.numTokens = numTokens; self.commands = commands; self.folder = folder
        self.encode = encode; self.decode = decode; self.tokenString = tokenString
    }

    /// A data tokenizer over a plain ``TextTokenizer`` whose command tokens sit at the given ids.
    /// Command-token strings are taken from `commandStrings` (ids past the text vocabulary otherwise
    /// have no string).
    public init(text: any TextTokenizer, commands: CommandTokens, numTokens: Int, identity: String,
                commandStrings: [Int: String] = [:], folder: String? = nil) {
        self.init(identity: identity, numTokens: numTokens, commands: commands, folder: folder,
                  encode: { text.encode($0) }, decode: { text.decode($0) },
                  tokenString: { id in commandStrings[id] ?? text.token(for: id) })
    }

    /// Ids whose token string marks a sentence end (docs/official-glm.md §4.2): the string contains any of
    /// `. ? ! ; : 。 ？ ！ ； …` or a newline. Command tokens never count.
    public func sentenceEndIds() -> [Int] {
        let command = Set([commands.pad, commands.eos, commands.cls, commands.sep, commands.mask, commands.unk,
                           commands.sop, commands.eop] + [commands.gMask, commands.sMask, commands.dBlock].compactMap { $0 })
        var out = [Int]()
        for id in 0..<numTokens where !command.contains(id) {
            if let s = tokenString(id), SentenceEnds.isSentenceEnd(s) { out.append(id) }
        }
        return out
    }
}

/// A lookup table: does token id `i` end a sentence? Built once per tokenizer, shared read-only.
public struct SentenceEnds: Sendable, Equatable {
    private let table: [Bool]

    /// The characters of docs/official-glm.md §4.2 (`contains_sentence_end` plus the CJK forms).
    public static let characters: Set<Character> = [".", "?", "!", ";", ":", "。", "？", "！", "；", "…", "\n"]

    public static func isSentenceEnd(_ token: String) -> Bool {
        token.contains { characters.contains($0) }
    }

    /// A table over `0..<size` with the given ids marked.
    public init(ids: [Int], size: Int) {
        var t = [Bool](repeating: false, count: max(size, (ids.max() ?? -1) + 1))
        for i in ids where i >= 0 { t[i] = true }
        table = t
    }

    @inline(__always) public func contains(_ id: Int32) -> Bool {
        let i = Int(id)
        return i >= 0 && i < table.count && table[i]
    }

    /// The marked ids, ascending.
    public var ids: [Int] { table.indices.filter { table[$0] } }
}

/// `manifest.json` of a shard folder: what the tokens are, how they are stored, and what was skipped.
///
/// Written last (temp file, then rename) so a folder with a manifest is always complete.
public struct ShardManifest: Codable, Sendable, Equatable {
    /// Bumped when the on-disk layout changes; readers refuse other versions.
    public static let currentFormatVersion = 1

    public struct Tokenizer: Codable, Sendable, Equatable {
        public var identity: String
        public var numTokens: Int
        public var folder: String?
        public var commands: CommandTokens
        /// Ids whose strings end a sentence, so packing and collation need no tokenizer at all.
        public var sentenceEndIds: [Int]
    }

    public struct Shard: Codable, Sendable, Equatable {
        /// Token file, relative to the folder: little-endian `uint16`/`uint32` ids, documents back to back.
        public var tokens: String
        /// Index file: `documents + 1` little-endian `uint64` offsets (in tokens) into `tokens`.
        public var index: String
        public var documents: Int
        public var tokenCount: Int
    }

    /// Counts of what `glm prepare` read, kept and skipped.
    public struct Counts: Codable, Sendable, Equatable {
        public var files = 0
        public var documents = 0
        public var tokens = 0
        public var bytes = 0
        public var skippedEmptyFiles = 0
        public var skippedBinaryFiles = 0
        public var skippedUnreadableFiles = 0
        public var skippedEmptyDocuments = 0
        public var invalidJSONLines = 0
        public var invalidUTF8Replacements = 0
        public init() {}
    }

    public var formatVersion: Int
    public var dtype: String  // "uint16" | "uint32"
    public var tokenizer: Tokenizer
    public var shards: [Shard]
    public var counts: Counts

    public var bytesPerToken: Int { dtype == "uint16" ? 2 : 4 }
}

extension ShardManifest {
    /// Reads `manifest.json` of a shard folder (no shard files are opened).
    public static func read(folder: URL) throws -> ShardManifest {
        let url = folder.appendingPathComponent("manifest.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw GLMDataError.missingManifest(folder: folder.path) }
        do { return try JSONDecoder().decode(ShardManifest.self, from: Data(contentsOf: url)) } catch {
            throw GLMDataError.badManifest(path: url.path, reason: "\(error)")
        }
    }

    /// The tokenizer folder to use with a shard folder: `override` when given, else the folder recorded
    /// at prepare time. Throws ``GLMDataError/tokenizerMissing(folder:recordedPath:identity:)`` naming
    /// the recorded folder and identity when neither exists.
    public func tokenizerFolder(shardFolder: URL, override: URL?) throws -> URL {
        if let override {
            guard FileManager.default.fileExists(atPath: override.path) else {
                throw GLMDataError.tokenizerFolderNotFound(path: override.path, shardFolder: shardFolder.path)
            }
            return override
        }
        guard let recorded = tokenizer.folder, FileManager.default.fileExists(atPath: recorded) else {
            throw GLMDataError.tokenizerMissing(folder: shardFolder.path, recordedPath: tokenizer.folder ?? "(not recorded)",
                                                identity: tokenizer.identity)
        }
        return URL(fileURLWithPath: recorded)
    }
}

extension DataTokenizer {
    /// The data pipeline's view of a loaded GLM tokenizer; `folder` is recorded in shard manifests.
    public init(_ t: GLMTokenizer, folder: URL?) {
        self.init(identity: t.identity, numTokens: t.numTokens, commands: t.commands, folder: folder?.standardizedFileURL.path,
                  encode: { t.encode($0, addSpecial: false) }, decode: { t.decode($0) }, tokenString: { t.tokenString($0) })
    }
}
