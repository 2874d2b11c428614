import Foundation

/// BERT's WordPiece tokenizer, matching Hugging Face `tokenizers` (`BertNormalizer` +
/// `BertPreTokenizer` + `WordPiece` + the `WordPiece` decoder) id for id.
///
/// Pipeline: clean text (drop NUL, U+FFFD and control characters, map whitespace to a space),
/// pad CJK ideographs with spaces, strip accents (NFD, drop Mn), lower-case, split on whitespace
/// and isolate punctuation, then greedy longest-match-first WordPiece with `##` continuations.
public struct WordPieceTokenizer: TextTokenizer {
    /// The normaliser and model settings of a BERT tokenizer (`tokenizer.json` field names in comments).
    public struct Options: Sendable, Equatable {
        /// Lower-case the text (`normalizer.lowercase`; the uncased models).
        public var lowercase: Bool = true
        /// Drop accents (NFD, then remove Mn); nil follows `lowercase`, as BERT's normaliser does
        /// (`normalizer.strip_accents`).
        public var stripAccents: Bool? = nil
        /// Remove NUL, U+FFFD and control characters, map whitespace to spaces (`normalizer.clean_text`).
        public var cleanText: Bool = true
        /// Put spaces around CJK ideographs so each is its own word (`normalizer.handle_chinese_chars`).
        public var handleChineseChars: Bool = true
        /// The piece for words the vocab cannot cover (`model.unk_token`).
        public var unknownToken: String = "[UNK]"
        /// Marks pieces that continue a word (`model.continuing_subword_prefix`).
        public var continuingSubwordPrefix: String = "##"
        /// Longer words (in characters) become one unknown token (`model.max_input_chars_per_word`).
        public var maxInputCharsPerWord: Int = 100
        /// Whose text splitting to follow; they differ only on rare characters (see ``Semantics``).
        public var semantics: Semantics = .huggingFaceTokenizers
        /// With ``Semantics/pythonBasicTokenizer``: whitespace-delimited words kept whole, as
        /// `BasicTokenizer(never_split=…)` does.
        public var neverSplit: Set<String> = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"]
        /// BERT uncased defaults.
        public init() {}
    }

    /// The two reference implementations of BERT's basic tokenization.
    public enum Semantics: Sendable, Equatable {
        /// Hugging Face `tokenizers` (Rust): `BertNormalizer` + `BertPreTokenizer`. What `tokenizer.json`
        /// files mean; the goldens of `bert-base-uncased.jsonl` and `codepoints.json`.
        case huggingFaceTokenizers
        /// Python `BasicTokenizer` of `pytorch_pretrained_bert` (and transformers' former slow
        /// `BertTokenizer`), which the original GLM code and the HF `GLMBertTokenizer` ran. It differs
        /// from the Rust one in final-sigma lower-casing (`ΟΔΟΣ` → `οδος` with `ς`), in dropping
        /// unassigned code points, in the CJK range U+2B820–U+2B91F, and in using the character tables
        /// of Python's `unicodedata`: `unicodeVersion` says which (characters assigned later count as
        /// unassigned). Python 3.11 has 14.0, 3.8 has 12.1.
        case pythonBasicTokenizer(unicodeVersion: Unicode.Version = (14, 0))

        public static func == (a: Semantics, b: Semantics) -> Bool {
            switch (a, b) {
            case (.huggingFaceTokenizers, .huggingFaceTokenizers): return true
            case let (.pythonBasicTokenizer(x), .pythonBasicTokenizer(y)): return x.major == y.major && x.minor == y.minor
            default: return false
            }
        }
    }

    /// The settings this tokenizer was built with.
    public let options: Options
    private let tokens: [String]
    private let table: ByteStringTable
    /// Continuation pieces keyed without their prefix, so no prefixed copy of the word is built.
    private let continuation: ByteStringTable
    private let unkId: Int
    /// Per ASCII byte: 0 drop, 1 whitespace, 2 punctuation, 3 word byte.
    private let asciiClass: [UInt8]
    /// ``pythonFlags`` for the BMP, built only for the Python semantics.
    private let pythonTable: [UInt8]

    /// Loads a BERT `vocab.txt` (one token per line; the line number is the id).
    ///
    /// Lines end at `\n`, `\r\n` or `\r`, as in the official `load_vocab`, which reads the file in
    /// Python's text mode (universal newlines; docs/official-glm.md §3.1; official
    /// data_utils/wordpiece.py:load_vocab): a vocabulary saved on Windows gives the same ids. With
    /// the Python semantics each line is `strip()`ped at both ends as there; with the Hugging Face
    /// one, trailing whitespace only (`tokenizers`' `trim_end`).
    public init(vocabFile: URL, options: Options = Options()) throws {
        let text = try FileIO.readText(vocabFile)
        let python: Bool
        if case .pythonBasicTokenizer = options.semantics { python = true } else { python = false }
        var lines = FileIO.lines(text).map { line -> String in
            var s = line.unicodeScalars[...]
            if python {
                while let first = s.first, GLMTokenizer.isPythonSpace(first) { s = s.dropFirst() }
                while let last = s.last, GLMTokenizer.isPythonSpace(last) { s = s.dropLast() }
            } else {
                while let last = s.last, last.properties.isWhitespace { s = s.dropLast() }
            }
            return String(String.UnicodeScalarView(s))
        }
        if lines.last == "" { lines.removeLast() }
        if lines.isEmpty { throw TokenizerError.malformed(file: vocabFile.path, line: nil, reason: "empty vocabulary") }
        try self.init(tokens: lines, options: options, file: vocabFile.path)
    }

    /// Builds from tokens in id order (e.g. a `tokenizer.json` vocab). `file` names the source in errors.
    public init(tokens: [String], options: Options = Options(), file: String = "<vocab>") throws {
        self.options = options
        self.tokens = tokens
        var table = ByteStringTable(capacity: tokens.count)
        var cont = ByteStringTable(capacity: tokens.count / 4)
        let prefix = Array(options.continuingSubwordPrefix.utf8)
        for (i, t) in tokens.enumerated() {
            let b = Array(t.utf8)
            table.set(b, Int32(i))
            if !prefix.isEmpty && b.count >= prefix.count && Array(b[0..<prefix.count]) == prefix {
                cont.set(Array(b[prefix.count...]), Int32(i))
            }
        }
        self.table = table
        self.continuation = prefix.isEmpty ? table : cont
        let unk = table.get(Array(options.unknownToken.utf8))
        guard unk >= 0 else { throw TokenizerError.missingToken(file: file, token: options.unknownToken) }
        self.unkId = Int(unk)
        var cls = [UInt8](repeating: 3, count: 128)
        for b in 0..<128 {
            let f = UnicodeClasses.flags(UInt32(b))
            if options.cleanText && (b == 0 || f & UnicodeClasses.control != 0) { cls[b] = 0 }
            else if f & UnicodeClasses.whitespace != 0 { cls[b] = 1 }
            else if f & UnicodeClasses.punctuation != 0 { cls[b] = 2 }
        }
        self.asciiClass = cls
        if case .pythonBasicTokenizer(let version) = options.semantics {
            pythonTable = WordPieceTokenizer.pythonTables.table(version)
        } else {
            pythonTable = []
        }
    }

    /// ``pythonFlags`` over the BMP per Unicode version, built once per process (65,536 property
    /// lookups, which used to be redone for every tokenizer loaded).
    private static let pythonTables = PythonTables()

    private final class PythonTables: @unchecked Sendable {
        // Safety: `tables` is only touched under `lock`.
        private let lock = NSLock()
        private var tables: [String: [UInt8]] = [:]

        func table(_ version: Unicode.Version) -> [UInt8] {
            let key = "\(version.major).\(version.minor)"
            lock.lock(); defer { lock.unlock() }
            if let t = tables[key] { return t }
            let t = (0..<0x10000).map { WordPieceTokenizer.pythonFlags(UInt32($0), version) }
            tables[key] = t
            return t
        }
    }

    public var vocabularySize: Int { tokens.count }
    public func token(for id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }
    public func id(for token: String) -> Int? {
        let v = table.get(Array(token.utf8))
        return v >= 0 ? Int(v) : nil
    }

    public func encode(_ text: String) -> [Int] {
        var out = [Int]()
        out.reserveCapacity(text.utf8.count / 4 + 4)
        var s = text
        let python: Unicode.Version?
        if case .pythonBasicTokenizer(let v) = options.semantics { python = v } else { python = nil }
        let ascii = s.withUTF8 { buf -> Bool in
            // ASCII text splits the same way under both semantics, except for never-split words.
            for b in buf where b >= 0x80 || (python != nil && b == 0x5B) { return false }
            encodeASCII(buf, into: &out)
            return true
        }
        if !ascii {
            if let python { encodePython(text, version: python, into: &out) } else { encodeGeneral(text, into: &out) }
        }
        return out
    }

    private func encodeASCII(_ buf: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        let lower = options.lowercase
        var word = [UInt8]()
        word.reserveCapacity(64)
        asciiClass.withUnsafeBufferPointer { cls in
            for b in buf {
                switch cls[Int(b)] {
                case 3:
                    word.append(lower && b >= 65 && b <= 90 ? b | 0x20 : b)
                case 1:
                    if !word.isEmpty { wordPiece(word, chars: word.count, into: &out); word.removeAll(keepingCapacity: true) }
                case 2:
                    if !word.isEmpty { wordPiece(word, chars: word.count, into: &out); word.removeAll(keepingCapacity: true) }
                    word.append(b)
                    wordPiece(word, chars: 1, into: &out)
                    word.removeAll(keepingCapacity: true)
                default: break
                }
            }
        }
        if !word.isEmpty { wordPiece(word, chars: word.count, into: &out) }
    }

    /// The full Unicode path, in the order `BertNormalizer` applies its steps.
    private func encodeGeneral(_ text: String, into out: inout [Int]) {
        var scalars = [UInt32]()
        scalars.reserveCapacity(text.utf8.count)
        for u in text.unicodeScalars {
            let v = u.value
            if options.cleanText {
                let f = UnicodeClasses.flags(v)
                if v == 0 || v == 0xFFFD || f & UnicodeClasses.control != 0 { continue }
                if f & UnicodeClasses.whitespace != 0 { scalars.append(32); continue }
            }
            if options.handleChineseChars && UnicodeClasses.isCJK(v) {
                scalars.append(32); scalars.append(v); scalars.append(32)
            } else {
                scalars.append(v)
            }
        }
        if options.stripAccents ?? options.lowercase, scalars.contains(where: { $0 >= 0x80 }) {
            var s = String.UnicodeScalarView()
            for v in scalars { s.append(Unicode.Scalar(v)!) }
            let nfd = String(s).decomposedStringWithCanonicalMapping
            scalars.removeAll(keepingCapacity: true)
            for u in nfd.unicodeScalars where UnicodeClasses.flags(u.value) & UnicodeClasses.nonspacingMark == 0 {
                scalars.append(u.value)
            }
        }
        if options.lowercase {
            var lowered = [UInt32]()
            lowered.reserveCapacity(scalars.count)
            for v in scalars {
                if v < 0x80 { lowered.append(v >= 65 && v <= 90 ? v | 0x20 : v) }
                else { for l in Unicode.Scalar(v)!.properties.lowercaseMapping.unicodeScalars { lowered.append(l.value) } }
            }
            scalars = lowered
        }
        var word = [UInt8]()
        var chars = 0
        for v in scalars {
            let f = UnicodeClasses.flags(v)
            if f & UnicodeClasses.whitespace != 0 {
                if chars > 0 { wordPiece(word, chars: chars, into: &out); word.removeAll(keepingCapacity: true); chars = 0 }
            } else if f & UnicodeClasses.punctuation != 0 {
                if chars > 0 { wordPiece(word, chars: chars, into: &out); word.removeAll(keepingCapacity: true) }
                appendUTF8(v, to: &word)
                wordPiece(word, chars: 1, into: &out)
                word.removeAll(keepingCapacity: true); chars = 0
            } else {
                appendUTF8(v, to: &word); chars += 1
            }
        }
        if chars > 0 { wordPiece(word, chars: chars, into: &out) }
    }

    // Per-scalar classes for the Python semantics (bits), under a given Unicode version.
    static let pyControl: UInt8 = 1, pyCleanSpace: UInt8 = 2, pyPunct: UInt8 = 4, pyMn: UInt8 = 8
    static let pySplitSpace: UInt8 = 16, pyCased: UInt8 = 32, pyCaseIgnorable: UInt8 = 64

    static func pythonFlags(_ v: UInt32, _ version: Unicode.Version) -> UInt8 {
        guard let u = Unicode.Scalar(v) else { return pyControl } // surrogates: Cs
        let p = u.properties
        let known = p.age.map { $0.major < version.major || ($0.major == version.major && $0.minor <= version.minor) } ?? false
        var cat: Unicode.GeneralCategory = known ? p.generalCategory : .unassigned
        if v == 0x1171E && version.major < 16 { cat = .nonspacingMark } // Mn until Unicode 16 made it Mc
        var f: UInt8 = 0
        switch cat {
        case .control, .format, .unassigned, .privateUse, .surrogate:
            if v != 9 && v != 10 && v != 13 { f |= pyControl }
        case .spaceSeparator: f |= pyCleanSpace
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: f |= pyPunct
        case .nonspacingMark: f |= pyMn
        default: break
        }
        if v == 32 || v == 9 || v == 10 || v == 13 { f |= pyCleanSpace }
        if (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96) || (v >= 123 && v <= 126) { f |= pyPunct }
        if (v >= 0x1C && v <= 0x1F) || p.isWhitespace { f |= pySplitSpace } // str.isspace, used by str.split()
        if known && p.isCased { f |= pyCased }
        if known && p.isCaseIgnorable { f |= pyCaseIgnorable }
        return f
    }

    @inline(__always)
    private func pyf(_ v: UInt32, _ version: Unicode.Version) -> UInt8 {
        v < 0x10000 ? pythonTable.withUnsafeBufferPointer { $0[Int(v)] } : WordPieceTokenizer.pythonFlags(v, version)
    }

    /// `BasicTokenizer.tokenize` of `pytorch_pretrained_bert`, step by step: clean text, pad CJK, split on
    /// whitespace, then per word (unless never-split) lower-case with Python's rules (final sigma),
    /// strip accents, split off punctuation; then WordPiece.
    private func encodePython(_ text: String, version: Unicode.Version, into out: inout [Int]) {
        var cleaned = [UInt32]()
        cleaned.reserveCapacity(text.utf8.count)
        for u in text.unicodeScalars {
            let v = u.value
            let f = pyf(v, version)
            if v == 0 || v == 0xFFFD || f & Self.pyControl != 0 { continue }
            if f & Self.pyCleanSpace != 0 { cleaned.append(32); continue }
            if options.handleChineseChars && WordPieceTokenizer.isPythonCJK(v) { cleaned.append(32); cleaned.append(v); cleaned.append(32) }
            else { cleaned.append(v) }
        }
        var bytes = [UInt8]()
        var chars = 0
        func flush() {
            if chars > 0 { wordPiece(bytes, chars: chars, into: &out) }
            bytes.removeAll(keepingCapacity: true); chars = 0
        }
        var word = [UInt32]()
        var i = 0
        let n = cleaned.count
        while i <= n {
            if i < n && pyf(cleaned[i], version) & Self.pySplitSpace == 0 { word.append(cleaned[i]); i += 1; continue }
            i += 1
            if word.isEmpty { continue }
            defer { word.removeAll(keepingCapacity: true) }
            if word[0] == 0x5B, !options.neverSplit.isEmpty {
                var sv = String.UnicodeScalarView()
                for v in word { sv.append(Unicode.Scalar(v)!) }
                if options.neverSplit.contains(String(sv)) {
                    for v in word { appendUTF8(v, to: &bytes) }
                    chars = word.count
                    flush()
                    continue
                }
            }
            var w = word
            if options.lowercase {
                w = pythonLower(word, version)
                if options.stripAccents ?? true, w.contains(where: { $0 >= 0x80 }) {
                    var sv = String.UnicodeScalarView()
                    for v in w { sv.append(Unicode.Scalar(v)!) }
                    w.removeAll(keepingCapacity: true)
                    for u in String(sv).decomposedStringWithCanonicalMapping.unicodeScalars where pyf(u.value, version) & Self.pyMn == 0 {
                        w.append(u.value)
                    }
                }
            }
            for v in w {
                if pyf(v, version) & Self.pyPunct != 0 {
                    flush()
                    appendUTF8(v, to: &bytes); chars = 1
                    flush()
                } else {
                    appendUTF8(v, to: &bytes); chars += 1
                }
            }
            flush()
        }
    }

    static func isPythonCJK(_ v: UInt32) -> Bool {
        (v >= 0x4E00 && v <= 0x9FFF) || (v >= 0x3400 && v <= 0x4DBF) || (v >= 0x20000 && v <= 0x2A6DF)
            || (v >= 0x2A700 && v <= 0x2B73F) || (v >= 0x2B740 && v <= 0x2B81F) || (v >= 0x2B820 && v <= 0x2CEAF)
            || (v >= 0xF900 && v <= 0xFAFF) || (v >= 0x2F800 && v <= 0x2FA1F)
    }

    /// Python's `str.lower` of one word: full mappings, and capital sigma becomes final sigma when a
    /// cased letter precedes it and none follows (case-ignorable characters skipped), as CPython does.
    private func pythonLower(_ w: [UInt32], _ version: Unicode.Version) -> [UInt32] {
        var r = [UInt32]()
        r.reserveCapacity(w.count)
        for (i, v) in w.enumerated() {
            if v < 0x80 { r.append(v >= 65 && v <= 90 ? v | 0x20 : v); continue }
            if v == 0x3A3 {
                var j = i - 1
                while j >= 0 && pyf(w[j], version) & Self.pyCaseIgnorable != 0 { j -= 1 }
                var final = j >= 0 && pyf(w[j], version) & Self.pyCased != 0
                if final && i + 1 < w.count {
                    var k = i + 1
                    while k < w.count && pyf(w[k], version) & Self.pyCaseIgnorable != 0 { k += 1 }
                    final = k == w.count || pyf(w[k], version) & Self.pyCased == 0
                }
                r.append(final ? 0x3C2 : 0x3C3)
                continue
            }
            for l in Unicode.Scalar(v)!.properties.lowercaseMapping.unicodeScalars { r.append(l.value) }
        }
        return r
    }

    /// Greedy longest-match-first over the word's bytes. Vocab entries are whole UTF-8 strings,
    /// so a byte-level match always ends on a character boundary; candidate ends skip continuation bytes.
    @inline(__always)
    private func wordPiece(_ word: [UInt8], chars: Int, into out: inout [Int]) {
        if chars > options.maxInputCharsPerWord { out.append(unkId); return }
        let mark = out.count
        word.withUnsafeBufferPointer { wb in
            let p = wb.baseAddress!
            let n = wb.count
            var start = 0
            while start < n {
                var end = n
                var found: Int32 = -1
                while end > start {
                    found = start == 0 ? table.get(p, end) : continuation.get(p + start, end - start)
                    if found >= 0 { break }
                    end -= 1
                    while end > start && p[end] & 0xC0 == 0x80 { end -= 1 }
                }
                if found < 0 {
                    out.removeSubrange(mark...)
                    out.append(unkId)
                    return
                }
                out.append(Int(found))
                start = end
            }
        }
    }

    /// Joins pieces as the `tokenizers` WordPiece decoder does (with `cleanup`): `##` pieces attach,
    /// others get a space, and the cleanup rules are applied to each token, as that decoder does.
    public func decode(_ ids: [Int]) -> String {
        // Byte-level prefix tests and replacements: Swift's `hasPrefix` compares Characters, and
        // "##" followed by a combining sign (e.g. "##ि") is not a Character-prefix match.
        var out = [UInt8]()
        let prefix = Array(options.continuingSubwordPrefix.utf8)
        for (i, id) in ids.enumerated() {
            guard let tok = token(for: id) else { continue }
            var t = Array(tok.utf8)
            if i != 0 {
                if !prefix.isEmpty && t.starts(with: prefix) { t.removeFirst(prefix.count) } else { t.insert(32, at: 0) }
            }
            out.append(contentsOf: WordPieceTokenizer.cleanup(t))
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let cleanupRules: [([UInt8], [UInt8])] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
        (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }

    /// `tokenizers`' `cleanup`: a chain of literal replacements, applied in this order.
    static func cleanup(_ s: [UInt8]) -> [UInt8] {
        guard s.contains(32) else { return s }
        var r = s
        for (a, b) in cleanupRules {
            var out = [UInt8]()
            var i = 0
            var changed = false
            while i < r.count {
                if r[i] == a[0] && i + a.count <= r.count && r[i..<(i + a.count)].elementsEqual(a) {
                    out.append(contentsOf: b); i += a.count; changed = true
                } else { out.append(r[i]); i += 1 }
            }
            if changed { r = out }
        }
        return r
    }
}
