import Foundation

/// A GLM tokenizer: a text tokenizer plus the GLM command tokens ([MASK], [gMASK], sop, eop, …) with
/// the exact ids of the official `data_utils/tokenization.py` for each tokenizer family.
///
/// Ids are the contract with checkpoints: an embedding row is indexed by them, so every id here is the
/// one the official code gives (docs/official-glm.md §3), including the 10B-Chinese quirk where [gMASK] shares
/// eop's id.
public struct GLMTokenizer: Sendable {
    /// Which official tokenizer class (and layout of command-token ids) a tokenizer follows.
    public enum Family: String, Codable, Sendable, CaseIterable {
        /// `BertWordPieceTokenizer`: GLM-Base/Large/Doc/410M/515M. Command ids from the vocab, sop/eop appended.
        case bertWordPiece
        /// `GPT2BPETokenizer("gpt2")`: GLM-2B, GLM-10B. All command tokens appended after the vocab, with task masks.
        case gpt2
        /// `GPT2BPETokenizer("roberta")`: GLM-RoBERTa. `<s> </s> <unk> <mask>` from the vocab, sop/eop appended.
        case roberta
        /// `ChineseSPTokenizer` without `--fix-command-token` (GLM-10B-Chinese): [gMASK] has eop's id.
        case chineseSP
        /// `ChineseSPTokenizer --fix-command-token` (GLM-Large-Chinese, and the HF layout of both Chinese models).
        case chineseSPFixed
    }

    /// One command token as the official code lists it; the list order is the order text is split in.
    public struct CommandToken: Sendable, Equatable {
        /// The official name: pad, eos, ENC, sep, MASK, unk, sop, eop, gMASK, sMASK.
        public let name: String
        /// The string that stands for it inside text, e.g. `[MASK]`, `<|endoftext|>`.
        public let token: String
        /// Its GLM id (an embedding row).
        public let id: Int
        /// Whitespace to the token's left is dropped when it is split out of text (docs/official-glm.md §3.5).
        public let lstrip: Bool
    }

    /// The official tokenizer class these ids follow.
    public let family: Family
    /// The plain-text tokenizer underneath (no command tokens); its ids are GLM ids unchanged.
    public let text: any TextTokenizer
    /// The command-token ids (pad, eos, cls, sep, mask, unk, sop, eop, gMASK, sMASK) of this family.
    public let commands: CommandTokens
    /// Command tokens in the official order.
    public let commandList: [CommandToken]
    /// Text vocab plus command tokens (e.g. 30524 for BERT); the official `tokenizer.num_tokens`.
    public let numTokens: Int
    /// `family:sha256-of-vocab-files`; equal identities mean equal ids for every text.
    public let identity: String
    /// The files this tokenizer was read from (vocabulary, merges or model file, and the
    /// `tokenizer_config.json` that named its family): what a model folder must carry to be
    /// tokenised the same way. Empty for a tokenizer built in memory.
    public private(set) var files: [URL] = []
    private let commandById: [Int: String]
    /// Command strings as UTF-8, for the splitting scan.
    private let splitTokens: [(bytes: [UInt8], index: Int)]

    /// The embedding-table size: the smallest multiple of 128 ≥ ``numTokens`` (`--make-vocab-size-divisible-by 128`).
    public var paddedVocabSize: Int { (numTokens + 127) / 128 * 128 }

    /// Wraps a text tokenizer; its identity hashes the vocabulary (no file is involved).
    public init(family: Family, text: any TextTokenizer) throws {
        var bytes = [UInt8]()
        for i in 0..<text.vocabularySize { bytes.append(contentsOf: (text.token(for: i) ?? "").utf8); bytes.append(10) }
        try self.init(family: family, text: text, identity: "\(family.rawValue):\(SHA256.hex(bytes))", source: "<vocabulary>")
    }

    init(family: Family, text: any TextTokenizer, identity: String, source: String) throws {
        self.family = family
        self.text = text
        self.identity = identity
        let v = text.vocabularySize
        func vocabId(_ t: String) throws -> Int {
            guard let id = text.id(for: t) else { throw TokenizerError.missingToken(file: source, token: t) }
            return id
        }
        var list: [CommandToken] = []
        func add(_ name: String, _ token: String, _ id: Int, lstrip: Bool = false) {
            list.append(CommandToken(name: name, token: token, id: id, lstrip: lstrip))
        }
        let num: Int
        switch family {
        case .bertWordPiece:
            let pad = try vocabId("[PAD]"), cls = try vocabId("[CLS]"), mask = try vocabId("[MASK]")
            let unk = try vocabId("[UNK]"), sep = try vocabId("[SEP]")
            add("pad", "[PAD]", pad); add("ENC", "[CLS]", cls); add("MASK", "[MASK]", mask)
            add("unk", "[UNK]", unk); add("sep", "[SEP]", sep); add("eos", "[PAD]", pad)
            add("sop", "<|startofpiece|>", v); add("eop", "<|endofpiece|>", v + 1)
            num = v + 2
            commands = CommandTokens(pad: pad, eos: pad, cls: cls, sep: sep, mask: mask, unk: unk, sop: v, eop: v + 1)
        case .gpt2:
            let eot = try vocabId("<|endoftext|>")
            add("pad", "<|endoftext|>", eot); add("eos", "<|endoftext|>", eot)
            add("sop", "<|startofpiece|>", v); add("eop", "<|endofpiece|>", v + 1)
            add("ENC", "[CLS]", v + 2); add("MASK", "[MASK]", v + 3, lstrip: true)
            add("sep", "[SEP]", v + 4); add("unk", "[UNK]", v + 5)
            add("gMASK", "[gMASK]", v + 6, lstrip: true); add("sMASK", "[sMASK]", v + 7, lstrip: true)
            num = v + 8
            commands = CommandTokens(pad: eot, eos: eot, cls: v + 2, sep: v + 4, mask: v + 3, unk: v + 5,
                                     sop: v, eop: v + 1, gMask: v + 6, sMask: v + 7)
        case .roberta:
            let eos = try vocabId("</s>"), bos = try vocabId("<s>"), mask = try vocabId("<mask>"), unk = try vocabId("<unk>")
            add("pad", "<|endoftext|>", eos); add("eos", "<|endoftext|>", eos); add("sep", "[SEP]", eos)
            add("ENC", "[CLS]", bos); add("MASK", "[MASK]", mask, lstrip: true); add("unk", "[UNK]", unk)
            add("sop", "<|startofpiece|>", v); add("eop", "<|endofpiece|>", v + 1)
            num = v + 2
            commands = CommandTokens(pad: eos, eos: eos, cls: bos, sep: eos, mask: mask, unk: unk, sop: v, eop: v + 1)
        case .chineseSP, .chineseSPFixed:
            add("pad", "<|endoftext|>", v); add("eos", "<|endoftext|>", v); add("sep", "[SEP]", v + 1)
            add("ENC", "[CLS]", v + 2); add("MASK", "[MASK]", v + 3, lstrip: true); add("unk", "[UNK]", v + 4)
            add("sop", "<|startofpiece|>", v + 6); add("eop", "<|endofpiece|>", v + 7)
            if family == .chineseSPFixed {
                add("sMASK", "[sMASK]", v + 8, lstrip: true); add("gMASK", "[gMASK]", v + 9, lstrip: true)
                num = v + 10
                commands = CommandTokens(pad: v, eos: v, cls: v + 2, sep: v + 1, mask: v + 3, unk: v + 4,
                                         sop: v + 6, eop: v + 7, gMask: v + 9, sMask: v + 8)
            } else {
                // The official code without --fix-command-token starts the task masks at num_tokens = v + 7,
                // so [gMASK] collides with eop. Checkpoints were trained with that, so it is kept.
                add("gMASK", "[gMASK]", v + 7, lstrip: true); add("sMASK", "[sMASK]", v + 8, lstrip: true)
                num = v + 9
                commands = CommandTokens(pad: v, eos: v, cls: v + 2, sep: v + 1, mask: v + 3, unk: v + 4,
                                         sop: v + 6, eop: v + 7, gMask: v + 7, sMask: v + 8)
            }
        }
        commandList = list
        numTokens = num
        var byId = [Int: String]()
        for c in list { byId[c.id] = c.token } // later entries win, as in the official command_id_map
        commandById = byId
        var seen = Set<String>()
        var split: [(bytes: [UInt8], index: Int)] = []
        for (i, c) in list.enumerated() where seen.insert(c.token).inserted { split.append((Array(c.token.utf8), i)) }
        splitTokens = split
    }

    /// Loads the tokenizer files in `folder` and picks the family.
    ///
    /// Files, in order of preference: `vocab.txt` (BERT, split as the original code's Python
    /// `BasicTokenizer` does: ``WordPieceTokenizer/Semantics/pythonBasicTokenizer(unicodeVersion:)``); `vocab.json` + `merges.txt` or `encoder.json` +
    /// `vocab.bpe` (GPT-2, or RoBERTa when the vocab has `<s>`, `</s>`, `<mask>`); a SentencePiece `*.model`
    /// (Chinese, fixed command tokens unless told otherwise); `tokenizer.json`. A `tokenizer_config.json`
    /// or `config.json` may name the family with `"glm_family"` (a ``Family`` raw value) or the HF
    /// `"tokenizer_class"` (`GLMBertTokenizer`, `GLMGPT2Tokenizer`, `GLMRobertaTokenizer`, `GLMChineseTokenizer`).
    public init(folder: URL) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir) else {
            throw TokenizerError.unreadable(file: folder.path, reason: "no such folder")
        }
        guard isDir.boolValue else { throw TokenizerError.unreadable(file: folder.path, reason: "not a folder") }
        func file(_ name: String) -> URL? {
            let u = folder.appendingPathComponent(name)
            return fm.fileExists(atPath: u.path) ? u : nil
        }
        var named: Family? = nil
        for cfg in ["tokenizer_config.json", "config.json"] {
            guard named == nil, let u = file(cfg) else { continue }
            guard let obj = try FileIO.readJSON(u) as? [String: Any] else {
                throw TokenizerError.malformed(file: u.path, line: nil, reason: "expected a JSON object")
            }
            if let f = obj["glm_family"] as? String {
                guard let fam = Family(rawValue: f) else {
                    throw TokenizerError.malformed(file: u.path, line: nil, reason: "glm_family \(f.debugDescription) is not one of \(Family.allCases.map(\.rawValue))")
                }
                named = fam
            } else if let c = obj["tokenizer_class"] as? String {
                switch c {
                case "GLMBertTokenizer", "BertTokenizer", "BertTokenizerFast": named = .bertWordPiece
                case "GLMGPT2Tokenizer", "GPT2Tokenizer", "GPT2TokenizerFast": named = .gpt2
                case "GLMRobertaTokenizer", "RobertaTokenizer", "RobertaTokenizerFast": named = .roberta
                case "GLMChineseTokenizer": named = .chineseSPFixed
                default: break
                }
            }
        }
        let models = ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".model") }.sorted()
        let text: any TextTokenizer
        let files: [URL]
        if let vocab = file("vocab.txt"), named == nil || named == .bertWordPiece {
            // The original GLM code (and HF's GLMBertTokenizer) split text with the Python BasicTokenizer.
            var o = WordPieceTokenizer.Options()
            o.semantics = .pythonBasicTokenizer()
            text = try WordPieceTokenizer(vocabFile: vocab, options: o); files = [vocab]
        } else if let (vocab, merges) = (file("vocab.json").flatMap { v in file("merges.txt").map { (v, $0) } })
                    ?? (file("encoder.json").flatMap { v in file("vocab.bpe").map { (v, $0) } }),
                  named == nil || named == .gpt2 || named == .roberta {
            text = try ByteLevelBPETokenizer(vocabFile: vocab, mergesFile: merges); files = [vocab, merges]
        } else if let m = models.first, named == nil || named == .chineseSP || named == .chineseSPFixed {
            let u = folder.appendingPathComponent(m)
            text = try SentencePieceTokenizer(modelFile: u); files = [u]
        } else if let tj = file("tokenizer.json") {
            text = try HFTokenizerJSON.load(tj); files = [tj]
        } else if let named {
            throw TokenizerError.unsupported(file: folder.path, feature: "the config names family \(named.rawValue), but the folder has none of its files")
        } else {
            throw TokenizerError.noTokenizerFiles(folder: folder.path)
        }
        let family: Family
        if let named { family = named }
        else if text is WordPieceTokenizer { family = .bertWordPiece }
        else if text is SentencePieceTokenizer { family = .chineseSPFixed }
        else if text.id(for: "<s>") != nil && text.id(for: "</s>") != nil && text.id(for: "<mask>") != nil { family = .roberta }
        else if text.id(for: "<|endoftext|>") != nil { family = .gpt2 }
        else if text.id(for: "[CLS]") != nil && text.id(for: "[MASK]") != nil { family = .bertWordPiece }
        else { family = .chineseSPFixed }
        var bytes = [UInt8]()
        for f in files { bytes.append(contentsOf: try FileIO.read(f)) }
        try self.init(family: family, text: text, identity: "\(family.rawValue):\(SHA256.hex(bytes))",
                      source: files.map(\.path).joined(separator: " + "))
        self.files = files + [file("tokenizer_config.json")].compactMap { $0 }
    }

    /// The token string of any id, command tokens included (where a command id is also a vocab entry,
    /// the command string wins, as in the official `IdToToken`).
    public func tokenString(_ id: Int) -> String? {
        if let c = commandById[id] { return c }
        return text.token(for: id)
    }

    /// Ids of `text` as the official `EncodeAsIds` gives them (docs/official-glm.md §3.5): command-token strings are
    /// split out first (whitespace before an lstrip token is dropped), and each remaining piece is
    /// encoded on its own. `addSpecial` wraps the result as `[CLS] … eos`, as the official
    /// generation and cloze code does.
    public func encode(_ text: String, addSpecial: Bool = false) -> [Int] {
        // The official code returns nothing for whitespace-only text.
        guard !GLMTokenizer.isBlank(text) else { return addSpecial ? [commands.cls, commands.eos] : [] }
        var s = text
        // Every command string starts with "[" or "<"; most text has neither and skips the scan.
        let mayHaveCommands = s.withUTF8 { $0.contains { $0 == 0x5B || $0 == 0x3C } }
        var ids: [Int]
        if mayHaveCommands {
            ids = addSpecial ? [commands.cls] : []
            encodePieces(text, into: &ids)
        } else if addSpecial {
            ids = [commands.cls] + self.text.encode(text)
        } else {
            ids = self.text.encode(text)
        }
        if addSpecial { ids.append(commands.eos) }
        return ids
    }

    /// Python's `not text.strip()`.
    static func isBlank(_ text: String) -> Bool {
        for u in text.unicodeScalars {
            let v = u.value
            if v < 0x80 {
                if !(v == 32 || (v >= 9 && v <= 13) || (v >= 0x1C && v <= 0x1F)) { return false }
            } else if !isPythonSpace(u) { return false }
        }
        return true
    }

    /// Python's `str.isspace` for one scalar, used by the official `strip`/`rstrip`/`split` calls
    /// (here and in the task readers, which follow the official Python string handling).
    public static func isPythonSpace(_ u: Unicode.Scalar) -> Bool {
        (u.value >= 0x1C && u.value <= 0x1F) || u.properties.isWhitespace
    }

    private func encodePieces(_ text: String, into ids: inout [Int]) {
        let bytes = Array(text.utf8)
        var pieceStart = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            guard b == 0x5B || b == 0x3C else { i += 1; continue } // every command string starts with [ or <
            var match: (len: Int, index: Int)? = nil
            for (t, index) in splitTokens where t.count <= n - i && (match == nil || t.count > match!.len) {
                var k = 0
                while k < t.count && bytes[i + k] == t[k] { k += 1 }
                if k == t.count { match = (t.count, index) }
            }
            guard let m = match else { i += 1; continue }
            let cmd = commandList[m.index]
            var piece = String(decoding: bytes[pieceStart..<i], as: UTF8.self)
            if cmd.lstrip {
                while let last = piece.unicodeScalars.last, GLMTokenizer.isPythonSpace(last) { piece.unicodeScalars.removeLast() }
            }
            if !piece.isEmpty { ids.append(contentsOf: self.text.encode(piece)) }
            ids.append(cmd.id)
            i += m.len
            pieceStart = i
        }
        if pieceStart < n { ids.append(contentsOf: self.text.encode(String(decoding: bytes[pieceStart...], as: UTF8.self))) }
    }

    /// Readable text: runs of text ids are decoded by the text tokenizer (WordPiece joins, bytes, `▁`),
    /// command ids become their strings (space-separated for WordPiece, whose text has no spaces of its own).
    public func decode(_ ids: [Int]) -> String {
        var out = ""
        var run = [Int]()
        let spaced = family == .bertWordPiece
        func flush() {
            guard !run.isEmpty else { return }
            let s = text.decode(run)
            if spaced && !out.isEmpty && !s.isEmpty { out += " " }
            out += s
            run.removeAll(keepingCapacity: true)
        }
        for id in ids {
            if let c = commandById[id] {
                flush()
                if spaced && !out.isEmpty { out += " " }
                out += c
            } else {
                run.append(id)
            }
        }
        flush()
        return out
    }
}
