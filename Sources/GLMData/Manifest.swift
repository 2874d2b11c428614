import Foundation
import GLMSystem
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
    /// An input of `glm prepare` is its output folder, or inside it.
    case inputIsOutput(input: String, output: String)
    /// `glm prepare` would replace a folder (or file) that is not a shard folder.
    case outputNotShards(path: String, reason: String)
    /// `glm prepare` found no document in its inputs; nothing was written.
    case noDocuments(output: String, skipped: String)
    /// Another `glm prepare` (or a run) holds the folder.
    case locked(path: String, holder: String)

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
        case .inputIsOutput(let i, let o):
            return "input \(i) is the output folder \(o) or inside it: prepare would read the shards it replaces; choose another --output"
        case .outputNotShards(let p, let r):
            return "refusing to replace \(p): \(r), not a shard folder made by glm prepare; choose another --output or remove it yourself"
        case .noDocuments(let o, let s):
            return "no documents in the inputs\(s.isEmpty ? "" : " (skipped: \(s))"); nothing was written and \(o) is unchanged"
        case .locked(let p, let h):
            return "\(p) is in use by \(h); wait for it to finish (or stop it) and run again"
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

        /// "2 empty files, 1 binary files": the non-zero skip counters, for a message.
        public var skippedSummary: String {
            [("empty files", skippedEmptyFiles), ("binary files", skippedBinaryFiles), ("unreadable files", skippedUnreadableFiles),
             ("empty documents", skippedEmptyDocuments), ("invalid JSON lines", invalidJSONLines)]
                .filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
        }
    }

    public var formatVersion: Int
    public var dtype: String  // "uint16" | "uint32"
    public var tokenizer: Tokenizer
    public var shards: [Shard]
    public var counts: Counts

    public var bytesPerToken: Int { dtype == "uint16" ? 2 : 4 }
}

extension ShardManifest {
    /// Largest tokenizer (ids) a manifest may declare: the tokenizers' own limit.
    public static let maxVocabulary = GLMTokenizer.maxVocabularySize

    /// Reads `manifest.json` of a shard folder and checks it (``validate(path:)``); no shard file is opened.
    public static func read(folder: URL) throws -> ShardManifest {
        let url = folder.appendingPathComponent("manifest.json")
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { throw GLMDataError.missingManifest(folder: folder.path) }
        guard !isDir.boolValue else { throw GLMDataError.badManifest(path: url.path, reason: "is a folder, expected a file") }
        let data: Data
        do { data = try MappedFile.read(url) } catch let e as SystemError {
            throw GLMDataError.unreadable(path: url.path, reason: e.reason)
        }
        return try decode(data, path: url.path)
    }

    /// Decodes and validates manifest JSON; errors name `path` and the field.
    public static func decode(_ data: Data, path: String) throws -> ShardManifest {
        let m: ShardManifest
        do { m = try decodeJSON(ShardManifest.self, from: data) } catch {
            throw GLMDataError.badManifest(path: path, reason: describeDecodingError(error))
        }
        try m.validate(path: path)
        return m
    }

    /// Checks everything a reader will trust: the format version and dtype, the tokenizer's size and
    /// ids, shard file names (plain names inside the folder), and that every count is non-negative
    /// and its byte size and the totals fit in an `Int`.
    public func validate(path: String) throws {
        func bad(_ r: String) -> GLMDataError { .badManifest(path: path, reason: r) }
        guard formatVersion == ShardManifest.currentFormatVersion else {
            throw GLMDataError.unsupportedFormatVersion(path: path, found: formatVersion, supported: ShardManifest.currentFormatVersion)
        }
        guard dtype == "uint16" || dtype == "uint32" else { throw bad("dtype must be uint16 or uint32, found \(dtype)") }
        let n = tokenizer.numTokens
        guard n > 0, n <= ShardManifest.maxVocabulary else {
            throw bad("tokenizer.numTokens is \(n), must be in 1...\(ShardManifest.maxVocabulary)")
        }
        if dtype == "uint16", n > 1 << 16 { throw bad("tokenizer.numTokens \(n) does not fit the uint16 dtype") }
        let c = tokenizer.commands
        let named: [(String, Int?)] = [("pad", c.pad), ("eos", c.eos), ("cls", c.cls), ("sep", c.sep), ("mask", c.mask),
                                       ("unk", c.unk), ("sop", c.sop), ("eop", c.eop), ("gMask", c.gMask),
                                       ("sMask", c.sMask), ("dBlock", c.dBlock)]
        for case let (name, id?) in named where id < 0 || id >= n {
            throw bad("tokenizer.commands.\(name) is \(id), outside the \(n) token ids")
        }
        if let id = tokenizer.sentenceEndIds.first(where: { $0 < 0 || $0 >= n }) {
            throw bad("tokenizer.sentenceEndIds holds \(id), outside the \(n) token ids")
        }
        var tokens = 0, documents = 0
        for (i, s) in shards.enumerated() {
            for name in [s.tokens, s.index] where name.isEmpty || name.contains("/") || name.hasPrefix(".") || name.contains("\0") {
                throw bad("shards[\(i)] names the file \(name.debugDescription); shard files must be plain names inside the folder")
            }
            guard s.documents >= 0, s.tokenCount >= 0 else {
                throw bad("shards[\(i)] has documents \(s.documents) and tokenCount \(s.tokenCount); counts cannot be negative")
            }
            guard CheckedSize.product([s.tokenCount, bytesPerToken]) != nil, s.documents < Int.max,
                  CheckedSize.product([s.documents + 1, 8]) != nil,
                  let t = CheckedSize.sum([tokens, s.tokenCount]), let d = CheckedSize.sum([documents, s.documents]) else {
                throw bad("shards[\(i)] counts (documents \(s.documents), tokenCount \(s.tokenCount)) are too large")
            }
            tokens = t; documents = d
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
