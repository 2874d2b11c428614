import Foundation

/// A `tokenizer.json` Unigram model with its normaliser, pre-tokenizer and decoder, as Hugging Face
/// `tokenizers` runs them (which differs in details from `sentencepiece`: pre-tokenization on `▁`,
/// the grapheme-wise `Precompiled` normaliser, the minimum score taken over every piece).
struct HFUnigramTokenizer: TextTokenizer {
    enum Normalizer: Sendable {
        case precompiled(PrecompiledCharsmap)
        case strip(left: Bool, right: Bool)
        case replaceLiteral(String, String)
        case replaceRegex(String, String) // the pattern source; compiled on use (NSRegularExpression is not Sendable)
        case nfc, nfd, nfkc, nfkd, lowercase
    }
    enum PreTokenizer: Sendable {
        case metaspace(replacement: Unicode.Scalar, prepend: Prepend, split: Bool)
        case whitespaceSplit
    }
    enum Prepend: Sendable { case always, first, never }
    enum Decoder: Sendable {
        case metaspace(replacement: Unicode.Scalar, prepend: Prepend)
        case byteFallback, fuse
        case replaceLiteral(String, String)
        case strip(content: Character, start: Int, stop: Int)
    }

    private let pieces: [String]
    private let scores: [Double]
    private let table: ByteStringTable
    private let maxPieceLength: Int
    private let unkId: Int?
    private let byteFallback: Bool
    private let minScore: Double
    private let byteIds: [Int]
    private let normalizers: [Normalizer]
    private let preTokenizers: [PreTokenizer]
    private let decoders: [Decoder]

    init(model: [String: Any], normalizer: [String: Any]?, preTokenizer: [String: Any]?, decoder: [String: Any]? = nil, file: String) throws {
        func bad(_ s: String) -> TokenizerError { .malformed(file: file, line: nil, reason: s) }
        guard let vocab = model["vocab"] as? [[Any]] else { throw bad("Unigram model.vocab is not a list of [piece, score]") }
        var pieces = [String](), scores = [Double]()
        var table = ByteStringTable(capacity: vocab.count)
        var maxLen = 1
        for (i, e) in vocab.enumerated() {
            guard e.count == 2, let p = e[0] as? String, let s = (e[1] as? NSNumber)?.doubleValue else { throw bad("model.vocab[\(i)] is not [piece, score]") }
            pieces.append(p); scores.append(s)
            let b = Array(p.utf8)
            table.set(b, Int32(i)); maxLen = max(maxLen, b.count)
        }
        guard !pieces.isEmpty else { throw bad("empty Unigram vocabulary") }
        self.pieces = pieces; self.scores = scores; self.table = table; maxPieceLength = maxLen
        if let u = model["unk_id"] as? Int {
            guard u >= 0 && u < pieces.count else { throw bad("model.unk_id \(u) is outside the vocabulary") }
            unkId = u
        } else { unkId = nil }
        byteFallback = (model["byte_fallback"] as? Bool) ?? false
        minScore = scores.min() ?? 0
        byteIds = (0..<256).map { b in Int(table.get(Array(String(format: "<0x%02X>", b).utf8))) }
        if byteFallback && byteIds.contains(-1) { throw bad("byte_fallback without all <0xAB> pieces") }

        var ns = [Normalizer]()
        for n in HFTokenizerJSON.flatten(normalizer, key: "normalizers") {
            switch HFTokenizerJSON.typeName(n) {
            case "Precompiled":
                guard let b64 = n["precompiled_charsmap"] as? String, let data = Data(base64Encoded: b64) else {
                    throw bad("Precompiled.precompiled_charsmap is not base64")
                }
                if !data.isEmpty { ns.append(.precompiled(try PrecompiledCharsmap([UInt8](data), file: file))) }
            case "Strip": ns.append(.strip(left: (n["strip_left"] as? Bool) ?? false, right: (n["strip_right"] as? Bool) ?? false))
            case "Replace":
                let content = (n["content"] as? String) ?? ""
                let pattern = n["pattern"] as? [String: Any]
                if let s = pattern?["String"] as? String { ns.append(.replaceLiteral(s, content)) }
                else if let r = pattern?["Regex"] as? String {
                    guard (try? NSRegularExpression(pattern: r)) != nil else { throw bad("Replace regex \(r.debugDescription) does not compile") }
                    ns.append(.replaceRegex(r, content))
                } else { throw bad("Replace.pattern is neither String nor Regex") }
            case "NFC": ns.append(.nfc)
            case "NFD": ns.append(.nfd)
            case "NFKC": ns.append(.nfkc)
            case "NFKD": ns.append(.nfkd)
            case "Lowercase": ns.append(.lowercase)
            case "null": break
            case let t: throw TokenizerError.unsupported(file: file, feature: "normalizer \(t) with Unigram")
            }
        }
        normalizers = ns
        func prepend(_ o: [String: Any]) -> Prepend {
            if let s = o["prepend_scheme"] as? String { return s == "never" ? .never : s == "first" ? .first : .always }
            return ((o["add_prefix_space"] as? Bool) ?? true) ? .always : .never
        }
        func replacement(_ o: [String: Any]) throws -> Unicode.Scalar {
            let r = (o["replacement"] as? String) ?? "\u{2581}"
            guard r.unicodeScalars.count == 1, let u = r.unicodeScalars.first else { throw bad("Metaspace.replacement is not one character") }
            return u
        }
        var ps = [PreTokenizer]()
        for p in HFTokenizerJSON.flatten(preTokenizer, key: "pretokenizers") {
            switch HFTokenizerJSON.typeName(p) {
            case "Metaspace": ps.append(.metaspace(replacement: try replacement(p), prepend: prepend(p), split: (p["split"] as? Bool) ?? true))
            case "WhitespaceSplit": ps.append(.whitespaceSplit)
            case "null": break
            case let t: throw TokenizerError.unsupported(file: file, feature: "pre_tokenizer \(t) with Unigram")
            }
        }
        preTokenizers = ps
        var ds = [Decoder]()
        for d in HFTokenizerJSON.flatten(decoder, key: "decoders") {
            switch HFTokenizerJSON.typeName(d) {
            case "Metaspace": ds.append(.metaspace(replacement: try replacement(d), prepend: prepend(d)))
            case "ByteFallback": ds.append(.byteFallback)
            case "Fuse": ds.append(.fuse)
            case "Replace":
                guard let s = (d["pattern"] as? [String: Any])?["String"] as? String else { throw TokenizerError.unsupported(file: file, feature: "Replace decoder with a regex") }
                ds.append(.replaceLiteral(s, (d["content"] as? String) ?? ""))
            case "Strip":
                let c = (d["content"] as? String).flatMap(\.first) ?? " "
                ds.append(.strip(content: c, start: (d["start"] as? Int) ?? 0, stop: (d["stop"] as? Int) ?? 0))
            case "null": break
            case let t: throw TokenizerError.unsupported(file: file, feature: "decoder \(t) with Unigram")
            }
        }
        decoders = ds
    }

    var vocabularySize: Int { pieces.count }
    func token(for id: Int) -> String? { id >= 0 && id < pieces.count ? pieces[id] : nil }
    func id(for token: String) -> Int? { let v = table.get(Array(token.utf8)); return v >= 0 ? Int(v) : nil }

    private func normalize(_ s: String) -> String {
        var s = s
        for n in normalizers {
            switch n {
            case .precompiled(let cm): s = HFUnigramTokenizer.precompiled(s, cm)
            case .strip(let l, let r):
                var u = Substring(s).unicodeScalars[...]
                if l { while let f = u.first, f.properties.isWhitespace { u.removeFirst() } }
                if r { while let f = u.last, f.properties.isWhitespace { u.removeLast() } }
                s = String(String.UnicodeScalarView(u))
            case .replaceLiteral(let a, let b): s = s.replacingOccurrences(of: a, with: b, options: .literal)
            case .replaceRegex(let p, let b):
                let re = try! NSRegularExpression(pattern: p) // validated at load
                s = re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: NSRegularExpression.escapedTemplate(for: b))
            case .nfc: s = s.precomposedStringWithCanonicalMapping
            case .nfd: s = s.decomposedStringWithCanonicalMapping
            case .nfkc: s = s.precomposedStringWithCompatibilityMapping
            case .nfkd: s = s.decomposedStringWithCompatibilityMapping
            case .lowercase:
                var out = String.UnicodeScalarView()
                for u in s.unicodeScalars { out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars) }
                s = String(out)
            }
        }
        return s
    }

    /// `tokenizers`' `Precompiled` normaliser: per grapheme (if under 6 bytes) the *shortest* rule
    /// matching its start replaces the whole grapheme; otherwise character by character.
    static func precompiled(_ s: String, _ cm: PrecompiledCharsmap) -> String {
        var out = [UInt8]()
        for g in s {
            var gb = Array(g.utf8)
            let done: Bool = gb.withUnsafeMutableBufferPointer { b in
                guard b.count < 6, let r = cm.shortestMatch(b.baseAddress!, b.count) else { return false }
                out.append(contentsOf: r)
                return true
            }
            if done { continue }
            for u in g.unicodeScalars {
                var cb = [UInt8](); appendUTF8(u.value, to: &cb)
                let n = cb.count
                if let r = cb.withUnsafeMutableBufferPointer({ cm.shortestMatch($0.baseAddress!, n) }) { out.append(contentsOf: r) }
                else { out.append(contentsOf: cb) }
            }
            gb.removeAll()
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func preTokenize(_ s: String) -> [String] {
        var parts = [s]
        var isFirst = [true]
        for p in preTokenizers {
            var next = [String](), nextFirst = [Bool]()
            for (part, first) in zip(parts, isFirst) {
                switch p {
                case .whitespaceSplit:
                    var cur = String.UnicodeScalarView()
                    var firstPiece = first
                    for u in part.unicodeScalars {
                        if u.properties.isWhitespace {
                            if !cur.isEmpty { next.append(String(cur)); nextFirst.append(firstPiece); firstPiece = false; cur = .init() }
                        } else { cur.append(u) }
                    }
                    if !cur.isEmpty { next.append(String(cur)); nextFirst.append(firstPiece) }
                case .metaspace(let rep, let prepend, let split):
                    var u = String.UnicodeScalarView()
                    for c in part.unicodeScalars { u.append(c == " " ? rep : c) }
                    if u.isEmpty { continue }
                    if (prepend == .always || (prepend == .first && first)) && u.first != rep { u.insert(rep, at: u.startIndex) }
                    if !split { next.append(String(u)); nextFirst.append(first); continue }
                    var cur = String.UnicodeScalarView()
                    var firstPiece = first
                    for c in u {
                        if c == rep && !cur.isEmpty { next.append(String(cur)); nextFirst.append(firstPiece); firstPiece = false; cur = .init() }
                        cur.append(c)
                    }
                    if !cur.isEmpty { next.append(String(cur)); nextFirst.append(firstPiece) }
                }
            }
            parts = next; isFirst = nextFirst
        }
        return parts
    }

    func encode(_ text: String) -> [Int] {
        var out = [Int]()
        for piece in preTokenize(normalize(text)) where !piece.isEmpty {
            var bytes = Array(piece.utf8)
            let n = bytes.count
            bytes.withUnsafeMutableBufferPointer { b in viterbi(b.baseAddress!, n, into: &out) }
        }
        return out
    }

    /// `Unigram::encode_optimized` followed by `tokenize` (fused unknown runs, byte fallback).
    private func viterbi(_ p: UnsafeMutablePointer<UInt8>, _ n: Int, into out: inout [Int]) {
        var best = [Double](repeating: 0, count: n + 1)
        var from = [Int](repeating: -1, count: n + 1)
        var ids = [Int](repeating: 0, count: n + 1)
        let unkScore = minScore - 10
        var s = 0
        while s < n {
            let base = best[s]
            let charLen = scalarLength(UnsafePointer(p), s, n)
            var single = false
            for len in 1...min(maxPieceLength, n - s) {
                let id = table.get(p + s, len)
                guard id >= 0 else { continue }
                let cand = scores[Int(id)] + base
                if from[s + len] == -1 || cand > best[s + len] { best[s + len] = cand; from[s + len] = s; ids[s + len] = Int(id) }
                if len == charLen { single = true }
            }
            if !single, let unk = unkId {
                let t = s + charLen
                let cand = unkScore + base
                if from[t] == -1 || cand > best[t] { best[t] = cand; from[t] = s; ids[t] = unk }
            }
            s += charLen
        }
        var segs = [(Int, Int, Int)]()
        var e = n
        while e > 0 {
            let b = from[e]
            if b < 0 { return } // unreachable without <unk>; tokenizers errors here, we emit nothing
            if let unk = unkId, ids[e] == unk, let last = segs.last, last.2 == unk { segs[segs.count - 1] = (b, last.1, unk) }
            else { segs.append((b, e, ids[e])) }
            e = b
        }
        for (b, e, id) in segs.reversed() {
            let known = table.get(p + b, e - b)
            if known >= 0 { out.append(Int(known)); continue }
            if byteFallback { for k in b..<e { out.append(byteIds[Int(p[k])]) }; continue }
            out.append(unkId ?? id)
        }
    }

    func decode(_ ids: [Int]) -> String {
        var tokens = ids.compactMap { token(for: $0) }
        for d in decoders {
            switch d {
            case .byteFallback:
                var next = [String](), bytes = [UInt8]()
                func flush() {
                    guard !bytes.isEmpty else { return }
                    if let s = String(validating: bytes, as: UTF8.self) { next.append(s) }
                    else { next.append(contentsOf: Array(repeating: "\u{FFFD}", count: bytes.count)) }
                    bytes.removeAll()
                }
                for t in tokens {
                    if t.utf8.count == 6, t.hasPrefix("<0x"), t.hasSuffix(">"), let b = UInt8(t.dropFirst(3).dropLast(), radix: 16) { bytes.append(b) }
                    else { flush(); next.append(t) }
                }
                flush()
                tokens = next
            case .fuse: tokens = [tokens.joined()]
            case .replaceLiteral(let a, let b): tokens = tokens.map { $0.replacingOccurrences(of: a, with: b, options: .literal) }
            case .strip(let c, let start, let stop):
                tokens = tokens.map { t in
                    var chars = Array(t)
                    var k = 0
                    while k < start, let f = chars.first, f == c { chars.removeFirst(); k += 1 }
                    k = 0
                    while k < stop, let l = chars.last, l == c { chars.removeLast(); k += 1 }
                    return String(chars)
                }
            case .metaspace(let rep, let prepend):
                tokens = tokens.enumerated().map { i, t in
                    var u = String.UnicodeScalarView()
                    for c in t.unicodeScalars {
                        if c == rep { if !(i == 0 && prepend != .never) { u.append(" ") } } else { u.append(c) }
                    }
                    return String(u)
                }
            }
        }
        return tokens.joined()
    }
}

/// `added_tokens` of a `tokenizer.json`, split out of the raw text before the model sees it, as
/// `tokenizers`' `AddedVocabulary` does (longest match first; `lstrip`/`rstrip` swallow whitespace).
struct HFAddedTokensTokenizer: TextTokenizer {
    struct Added: Sendable { let content: [UInt8]; let id: Int; let lstrip: Bool; let rstrip: Bool }
    let model: any TextTokenizer
    let added: [Added]
    private let byId: [Int: String]

    init(model: any TextTokenizer, added: [Added], contents: [Int: String]) {
        self.model = model
        self.added = added.sorted { $0.content.count > $1.content.count }
        byId = contents
    }

    var vocabularySize: Int { max(model.vocabularySize, (byId.keys.max() ?? -1) + 1) }
    func token(for id: Int) -> String? { model.token(for: id) ?? byId[id] }
    func id(for token: String) -> Int? { model.id(for: token) ?? byId.first { $0.value == token }?.key }
    func decode(_ ids: [Int]) -> String { model.decode(ids) }

    func encode(_ text: String) -> [Int] {
        let b = Array(text.utf8)
        var out = [Int]()
        var start = 0, i = 0
        func isSpace(_ k: Int) -> Bool { b[k] == 32 || (b[k] >= 9 && b[k] <= 13) }
        while i < b.count {
            guard let a = added.first(where: { $0.content.count <= b.count - i && b[i..<(i + $0.content.count)].elementsEqual($0.content) }) else { i += 1; continue }
            var left = i
            if a.lstrip { while left > start && isSpace(left - 1) { left -= 1 } }
            if left > start { out += model.encode(String(decoding: b[start..<left], as: UTF8.self)) }
            out.append(a.id)
            i += a.content.count
            if a.rstrip { while i < b.count && isSpace(i) { i += 1 } }
            start = i
        }
        if start < b.count { out += model.encode(String(decoding: b[start...], as: UTF8.self)) }
        return out
    }
}
