import Foundation

/// GPT-2's byte-level BPE (also RoBERTa's), matching Hugging Face `tokenizers`
/// (`ByteLevel` pre-tokenizer + `BPE` model + `ByteLevel` decoder) id for id.
///
/// Text is split with the GPT-2 pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, implemented by hand
/// over scalars (a regex engine would dominate the run time); each piece's UTF-8 bytes become the
/// byte symbols of the vocab, and merges are applied by rank. Results per piece are cached.
public struct ByteLevelBPETokenizer: TextTokenizer {
    private let tokens: [String]
    private let tokenBytes: [[UInt8]]
    private let table: ByteStringTable
    private let merges: PairTable
    private let byteIds: [Int32]
    /// Prepend a space to the text, as RoBERTa-style `add_prefix_space` does.
    public let addPrefixSpace: Bool
    private let cache: WordCache

    /// Loads `encoder.json` + `vocab.bpe` (OpenAI names) or `vocab.json` + `merges.txt` (Hugging Face names).
    public init(vocabFile: URL, mergesFile: URL, addPrefixSpace: Bool = false) throws {
        guard let dict = try FileIO.readJSON(vocabFile) as? [String: Any] else {
            throw TokenizerError.malformed(file: vocabFile.path, line: nil, reason: "expected a JSON object of token → id")
        }
        var vocab = [String: Int]()
        vocab.reserveCapacity(dict.count)
        for (k, v) in dict {
            guard let n = v as? NSNumber, let id = Int(exactly: n.doubleValue), id >= 0 else {
                throw TokenizerError.malformed(file: vocabFile.path, line: nil, reason: "id of \(k.debugDescription) is not a non-negative integer")
            }
            vocab[k] = id
        }
        let text = try FileIO.readText(mergesFile)
        var pairs = [(String, String)]()
        for (n, l) in FileIO.lines(text).enumerated() {
            if l.isEmpty || (n == 0 && l.hasPrefix("#version")) { continue }
            let parts = l.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError.malformed(file: mergesFile.path, line: n + 1, reason: "a merge is two tokens separated by one space, got \(String(l).debugDescription)")
            }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        try self.init(vocab: vocab, merges: pairs, addPrefixSpace: addPrefixSpace, vocabName: vocabFile.path, mergesName: mergesFile.path)
    }

    /// Builds from a token → id map and merges in rank order. The names appear in errors.
    public init(vocab: [String: Int], merges: [(String, String)], addPrefixSpace: Bool = false,
                vocabName: String = "<vocab>", mergesName: String = "<merges>") throws {
        let size = (vocab.values.max() ?? -1) + 1
        guard size > 0 else { throw TokenizerError.malformed(file: vocabName, line: nil, reason: "empty vocabulary") }
        guard size <= vocab.count * 2 + 1024 else {
            throw TokenizerError.malformed(file: vocabName, line: nil, reason: "ids are not dense (max id \(size - 1) for \(vocab.count) tokens)")
        }
        var tokens = [String](repeating: "", count: size)
        var table = ByteStringTable(capacity: vocab.count)
        for (t, id) in vocab { tokens[id] = t; table.set(Array(t.utf8), Int32(id)) }
        let b2u = ByteLevelBPETokenizer.bytesToUnicode
        var u2b = [UInt32: UInt8]()
        for (b, u) in b2u.enumerated() { u2b[u] = UInt8(b) }
        tokenBytes = tokens.map { t in
            var bytes = [UInt8]()
            for u in t.unicodeScalars {
                if let b = u2b[u.value] { bytes.append(b) } else { appendUTF8(u.value, to: &bytes) }
            }
            return bytes
        }
        byteIds = b2u.map { u -> Int32 in
            var s = [UInt8](); appendUTF8(u, to: &s)
            return table.get(s)
        }
        var pt = PairTable(capacity: merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            let ia = table.get(Array(a.utf8)), ib = table.get(Array(b.utf8)), im = table.get(Array((a + b).utf8))
            guard ia >= 0, ib >= 0 else {
                throw TokenizerError.malformed(file: mergesName, line: nil, reason: "merge \(rank + 1) (\(a) \(b)) uses a token missing from \(vocabName)")
            }
            guard im >= 0 else {
                throw TokenizerError.malformed(file: mergesName, line: nil, reason: "merge \(rank + 1) (\(a) \(b)) makes \(a + b), which is missing from \(vocabName)")
            }
            pt.insertIfAbsent(ia, ib, rank: Int32(rank), merged: im)
        }
        self.tokens = tokens
        self.table = table
        self.merges = pt
        self.addPrefixSpace = addPrefixSpace
        self.cache = WordCache()
    }

    /// GPT-2's reversible map from bytes to printable scalars: printable Latin-1 bytes map to
    /// themselves, the rest to U+0100 onwards in byte order.
    static let bytesToUnicode: [UInt32] = {
        var out = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) { out[b] = UInt32(b) }
            else { out[b] = 256 + n; n += 1 }
        }
        return out
    }()

    public var vocabularySize: Int { tokens.count }
    public func token(for id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }
    public func id(for token: String) -> Int? {
        let v = table.get(Array(token.utf8))
        return v >= 0 ? Int(v) : nil
    }

    /// Raw bytes of a token (after undoing the byte-to-unicode map).
    public func bytes(for id: Int) -> [UInt8]? { id >= 0 && id < tokens.count ? tokenBytes[id] : nil }

    public func decode(_ ids: [Int]) -> String {
        var bytes = [UInt8]()
        for id in ids where id >= 0 && id < tokenBytes.count { bytes.append(contentsOf: tokenBytes[id]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func encode(_ text: String) -> [Int] {
        var out = [Int]()
        // tokenizers prepends the space only to non-empty text that does not start with one.
        var s = addPrefixSpace && !text.isEmpty && text.utf8.first != 32 ? " " + text : text
        out.reserveCapacity(s.utf8.count / 3 + 4)
        s.withUTF8 { buf in
            guard let p = buf.baseAddress, buf.count > 0 else { return }
            var symbols = [Int32]()
            ByteLevelBPETokenizer.preTokenize(p, buf.count) { start, end in
                bpe(p + start, end - start, &symbols, into: &out)
            }
        }
        return out
    }

    /// Splits with the GPT-2 pattern and calls `emit(startByte, endByte)` for each piece.
    @inline(__always)
    static func preTokenize(_ p: UnsafePointer<UInt8>, _ n: Int, _ emit: (Int, Int) -> Void) {
        // Scalar start offsets and classes (0 other, 1 space, 2 letter, 3 number).
        var pos = [Int32](); pos.reserveCapacity(n + 1)
        var cls = [UInt8](); cls.reserveCapacity(n)
        var i = 0
        while i < n {
            let (v, len) = decodeScalar(p, i)
            let f = UnicodeClasses.flags(v)
            pos.append(Int32(i))
            cls.append(f & UnicodeClasses.whitespace != 0 ? 1 : f & UnicodeClasses.letter != 0 ? 2 : f & UnicodeClasses.number != 0 ? 3 : 0)
            i += len
        }
        pos.append(Int32(n))
        let m = cls.count
        pos.withUnsafeBufferPointer { pos in
            cls.withUnsafeBufferPointer { cls in
                @inline(__always) func byte(_ k: Int) -> UInt8 { k < m ? p[Int(pos[k])] : 0 }
                var i = 0
                while i < m {
                    let b = p[Int(pos[i])]
                    if b == 0x27 && i + 1 < m { // contractions, case-sensitive as the pattern is
                        let c1 = byte(i + 1), c2 = byte(i + 2)
                        var j = 0
                        if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { j = i + 2 }
                        else if i + 2 < m && ((c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C)) { j = i + 3 }
                        if j > 0 { emit(Int(pos[i]), Int(pos[j])); i = j; continue }
                    }
                    var k = i
                    if b == 0x20 && i + 1 < m && cls[i + 1] != 1 { k = i + 1 }
                    let c = cls[k]
                    if c != 1 {
                        var j = k + 1
                        while j < m && cls[j] == c { j += 1 }
                        emit(Int(pos[i]), Int(pos[j])); i = j
                    } else {
                        var j = i + 1
                        while j < m && cls[j] == 1 { j += 1 }
                        if j < m && j - i > 1 { j -= 1 }
                        emit(Int(pos[i]), Int(pos[j])); i = j
                    }
                }
            }
        }
    }

    /// BPE of one pre-token's bytes, through the cache.
    @inline(__always)
    private func bpe(_ p: UnsafePointer<UInt8>, _ n: Int, _ symbols: inout [Int32], into out: inout [Int]) {
        let cacheable = n <= WordCache.maxKeyLength
        if cacheable && cache.lookup(p, n, into: &out) { return }
        symbols.removeAll(keepingCapacity: true)
        for k in 0..<n {
            let id = byteIds[Int(p[k])]
            if id >= 0 { symbols.append(id) }
        }
        if symbols.count < 48 { mergeQuadratic(&symbols) } else { mergeWithHeap(&symbols) }
        let mark = out.count
        for s in symbols { out.append(Int(s)) }
        if cacheable { cache.store(p, n, out[mark...]) }
    }

    /// Lowest rank first, leftmost on ties; fine for the short pieces that make up most text.
    private func mergeQuadratic(_ s: inout [Int32]) {
        while s.count > 1 {
            var best = Int32.max, at = -1, merged: Int32 = 0
            for k in 0..<(s.count - 1) {
                if let m = merges.get(s[k], s[k + 1]), m.rank < best { best = m.rank; at = k; merged = m.merged }
            }
            if at < 0 { return }
            s[at] = merged
            s.remove(at: at + 1)
        }
    }

    /// Same merge order as `mergeQuadratic` (rank, then position), in O(n log n) for long pieces
    /// such as a run of a thousand identical characters.
    private func mergeWithHeap(_ s: inout [Int32]) {
        let n = s.count
        var ids = s
        var prev = (0..<n).map { $0 - 1 }
        var next = (0..<n).map { $0 + 1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = BinaryHeap<MergeCandidate>()
        for k in 0..<(n - 1) {
            if let m = merges.get(ids[k], ids[k + 1]) { heap.push(MergeCandidate(rank: m.rank, pos: Int32(k), left: ids[k], right: ids[k + 1])) }
        }
        while let top = heap.pop() {
            let k = Int(top.pos)
            guard alive[k], ids[k] == top.left else { continue }
            let r = next[k]
            guard r < n, ids[r] == top.right, let m = merges.get(ids[k], ids[r]), m.rank == top.rank else { continue }
            ids[k] = m.merged
            alive[r] = false
            next[k] = next[r]
            if next[r] < n { prev[next[r]] = k }
            let l = prev[k]
            if l >= 0, let ml = merges.get(ids[l], ids[k]) { heap.push(MergeCandidate(rank: ml.rank, pos: Int32(l), left: ids[l], right: ids[k])) }
            let nr = next[k]
            if nr < n, let mr = merges.get(ids[k], ids[nr]) { heap.push(MergeCandidate(rank: mr.rank, pos: Int32(k), left: ids[k], right: ids[nr])) }
        }
        s.removeAll(keepingCapacity: true)
        var k = 0
        while k < n { s.append(ids[k]); k = next[k] }
    }
}

/// A candidate merge of the pair starting at `pos`; the lowest rank, then the leftmost, goes first.
struct MergeCandidate: Comparable {
    var rank: Int32
    var pos: Int32
    var left: Int32
    var right: Int32
    @inline(__always) static func < (a: MergeCandidate, b: MergeCandidate) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos
    }
}

/// Pre-token bytes → ids, shared by all threads using one tokenizer. Text repeats its words, so
/// most pieces are looked up, not merged. Bounded: once full it stops growing, as `tokenizers` does.
final class WordCache: @unchecked Sendable {
    static let maxKeyLength = 64
    static let capacity = 1 << 17
    private let lock = NSLock()
    private var table = ByteStringTable(capacity: 1024)
    private var ranges: [(start: Int32, count: Int32)] = []
    private var ids: [Int32] = []

    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int]) -> Bool {
        lock.lock(); defer { lock.unlock() }
        let v = table.get(p, n)
        if v < 0 { return false }
        let r = ranges[Int(v)]
        for k in Int(r.start)..<Int(r.start + r.count) { out.append(Int(ids[k])) }
        return true
    }

    func store(_ p: UnsafePointer<UInt8>, _ n: Int, _ value: ArraySlice<Int>) {
        lock.lock(); defer { lock.unlock() }
        guard table.count < WordCache.capacity else { return }
        table.set(Array(UnsafeBufferPointer(start: p, count: n)), Int32(ranges.count))
        ranges.append((Int32(ids.count), Int32(value.count)))
        for v in value { ids.append(Int32(v)) }
    }
}
