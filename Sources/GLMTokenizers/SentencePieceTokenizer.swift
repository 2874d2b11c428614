import Foundation

/// A SentencePiece model (`.model`, the protobuf `ModelProto`), BPE or unigram, encoding as the
/// `sentencepiece` library does: the precompiled normaliser (e.g. `nmt_nfkc`), user-defined pieces
/// kept verbatim, dummy prefix `▁`, whitespace folding, byte fallback (`<0xAB>` pieces) and runs of
/// unknown characters merged into one `<unk>`.
///
/// The protobuf is read by hand: the target has no dependencies, and only a handful of fields matter.
public struct SentencePieceTokenizer: TextTokenizer {
    /// `TrainerSpec.model_type`; WORD and CHAR models are not used by GLM and are rejected.
    public enum ModelType: Int, Sendable { case unigram = 1, bpe = 2 }
    enum PieceType: Int { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6 }

    /// Segmentation algorithm of the model.
    public let modelType: ModelType
    /// Characters no piece covers become `<0xAB>` byte pieces instead of `<unk>`.
    public let byteFallback: Bool
    /// A `▁` is put before the text, so a word has the same pieces at the start and in the middle.
    public let addDummyPrefix: Bool
    /// Leading, trailing and repeated spaces are removed before segmentation.
    public let removeExtraWhitespaces: Bool
    /// Spaces become `▁` (U+2581) in pieces.
    public let escapeWhitespaces: Bool
    private let pieces: [String]
    private let scores: [Float]
    private let types: [UInt8]
    /// NORMAL, USER_DEFINED and UNUSED pieces (the ones segmentation may produce).
    private let normalPieces: ByteStringTable
    /// CONTROL, UNKNOWN and BYTE pieces, looked up first as `PieceToId` does.
    private let reservedPieces: ByteStringTable
    private let userDefined: ByteStringTable
    private let maxUserDefinedLength: Int
    private let maxPieceLength: Int
    private let unkId: Int
    private let byteIds: [Int32]
    private let unkSurface: String
    private let minScore: Float
    private let maxScore: Float
    private let charsmap: PrecompiledCharsmap?

    /// Reads a `.model` file.
    public init(modelFile: URL) throws {
        try self.init(modelData: [UInt8](try FileIO.read(modelFile)), file: modelFile.path)
    }

    /// Parses `ModelProto` bytes; `file` names the source in errors.
    public init(modelData: [UInt8], file: String = "<model>") throws {
        func bad(_ why: String) -> TokenizerError { .malformed(file: file, line: nil, reason: why) }
        var pieces: [String] = [], scores: [Float] = [], types: [UInt8] = []
        var modelTypeRaw = 1, byteFallback = false, unkIdField: Int? = nil, unkSurface = " \u{2047} ", suffix = false
        var addDummy = true, removeExtra = true, escape = true, charsmapBytes: [UInt8] = []
        do {
            var top = ProtoReader(modelData)
            while let (field, value) = try top.next() {
                switch (field, value) {
                case (1, .bytes(let b)):
                    var r = ProtoReader(b)
                    var piece = "", score: Float = 0, type = 1
                    while let (f, v) = try r.next() {
                        switch (f, v) {
                        case (1, .bytes(let s)):
                            guard let str = String(validating: s, as: UTF8.self) else { throw bad("piece \(pieces.count) is not valid UTF-8") }
                            piece = str
                        case (2, .fixed32(let x)): score = Float(bitPattern: x)
                        case (3, .varint(let x)): type = Int(truncatingIfNeeded: x)
                        default: break
                        }
                    }
                    guard (1...6).contains(type) else { throw bad("piece \(pieces.count) has unknown type \(type)") }
                    pieces.append(piece); scores.append(score); types.append(UInt8(type))
                case (2, .bytes(let b)):
                    var r = ProtoReader(b)
                    while let (f, v) = try r.next() {
                        switch (f, v) {
                        case (3, .varint(let x)): modelTypeRaw = Int(truncatingIfNeeded: x)
                        case (24, .varint(let x)): suffix = x != 0
                        case (35, .varint(let x)): byteFallback = x != 0
                        case (40, .varint(let x)): unkIdField = Int(Int32(truncatingIfNeeded: x))
                        case (44, .bytes(let s)): unkSurface = String(decoding: s, as: UTF8.self)
                        default: break
                        }
                    }
                case (3, .bytes(let b)):
                    var r = ProtoReader(b)
                    while let (f, v) = try r.next() {
                        switch (f, v) {
                        case (2, .bytes(let s)): charsmapBytes = Array(s)
                        case (3, .varint(let x)): addDummy = x != 0
                        case (4, .varint(let x)): removeExtra = x != 0
                        case (5, .varint(let x)): escape = x != 0
                        default: break
                        }
                    }
                default: break
                }
            }
        } catch let e as ProtoReader.Failure {
            throw bad("not a SentencePiece model (protobuf: \(e.reason))")
        }
        guard !pieces.isEmpty else { throw bad("no pieces (not a SentencePiece model?)") }
        guard let mt = ModelType(rawValue: modelTypeRaw) else {
            throw TokenizerError.unsupported(file: file, feature: "model_type \(modelTypeRaw) (only unigram and BPE)")
        }
        guard !suffix else { throw TokenizerError.unsupported(file: file, feature: "treat_whitespace_as_suffix") }
        modelType = mt
        self.byteFallback = byteFallback
        addDummyPrefix = addDummy; removeExtraWhitespaces = removeExtra; escapeWhitespaces = escape
        self.unkSurface = unkSurface
        self.pieces = pieces; self.scores = scores; self.types = types
        var normal = ByteStringTable(capacity: pieces.count), reserved = ByteStringTable(capacity: 300), user = ByteStringTable(capacity: 8)
        var maxUser = 0, maxLen = 1, unk = -1
        var minS = Float.greatestFiniteMagnitude, maxS = -Float.greatestFiniteMagnitude
        var byteIds = [Int32](repeating: -1, count: 256)
        for (i, p) in pieces.enumerated() {
            let b = Array(p.utf8)
            let t = PieceType(rawValue: Int(types[i]))!
            switch t {
            case .normal, .userDefined, .unused:
                guard normal.get(b) < 0 else { throw bad("piece \(p.debugDescription) is listed twice") }
                normal.set(b, Int32(i)); maxLen = max(maxLen, b.count)
                if t == .userDefined { user.set(b, Int32(i)); maxUser = max(maxUser, b.count) }
                if t == .normal { minS = min(minS, scores[i]); maxS = max(maxS, scores[i]) }
            case .unknown, .control, .byte:
                guard reserved.get(b) < 0 else { throw bad("piece \(p.debugDescription) is listed twice") }
                reserved.set(b, Int32(i))
                if t == .unknown { unk = i }
                if t == .byte {
                    guard b.count == 6, p.hasPrefix("<0x"), p.hasSuffix(">"), let v = UInt8(p.dropFirst(3).dropLast(), radix: 16) else {
                        throw bad("byte piece \(p.debugDescription) is not of the form <0xAB>")
                    }
                    byteIds[Int(v)] = Int32(i)
                }
            }
        }
        if let u = unkIdField, u >= 0, u < pieces.count, types[u] == 2 { unk = u }
        guard unk >= 0 else { throw bad("no <unk> piece") }
        if byteFallback && byteIds.contains(-1) { throw bad("byte_fallback is on but not all 256 <0xAB> pieces exist") }
        unkId = unk
        normalPieces = normal; reservedPieces = reserved; userDefined = user
        maxUserDefinedLength = maxUser; maxPieceLength = maxLen
        self.byteIds = byteIds
        minScore = minS == Float.greatestFiniteMagnitude ? 0 : minS
        maxScore = maxS == -Float.greatestFiniteMagnitude ? 0 : maxS
        charsmap = charsmapBytes.isEmpty ? nil : try PrecompiledCharsmap(charsmapBytes, file: file)
    }

    public var vocabularySize: Int { pieces.count }
    public func token(for id: Int) -> String? { id >= 0 && id < pieces.count ? pieces[id] : nil }
    public func id(for token: String) -> Int? {
        let b = Array(token.utf8)
        let r = reservedPieces.get(b)
        if r >= 0 { return Int(r) }
        let n = normalPieces.get(b)
        return n >= 0 ? Int(n) : nil
    }

    // MARK: Normalisation

    /// Longest user-defined piece at `i`, or 0.
    @inline(__always)
    private func userDefinedMatch(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        guard maxUserDefinedLength > 0 else { return 0 }
        var len = min(maxUserDefinedLength, n - i)
        while len > 0 {
            if userDefined.get(p + i, len) >= 0 { return len }
            len -= 1
        }
        return 0
    }

    /// `Normalizer::Normalize`: returns the normalised bytes with `▁` for spaces.
    func normalize(_ text: String) -> [UInt8] {
        var out = [UInt8]()
        var input = Array(text.utf8)
        input.withUnsafeMutableBufferPointer { buf in
            guard let p = buf.baseAddress, buf.count > 0 else { return }
            let n = buf.count
            // One normalised prefix: (bytes, consumed).
            func prefix(_ i: Int) -> (ArraySlice<UInt8>, Int) {
                let u = userDefinedMatch(p, i, n)
                if u > 0 { return (ArraySlice(UnsafeBufferPointer(start: p + i, count: u)), u) }
                if let cm = charsmap, let (rep, len) = cm.longestMatch(p + i, n - i) { return (rep, len) }
                let len = scalarLength(p, i, n)
                return (ArraySlice(UnsafeBufferPointer(start: p + i, count: len)), len)
            }
            var i = 0
            if removeExtraWhitespaces {
                while i < n {
                    let (s, len) = prefix(i)
                    if !(s.count == 1 && s.first == 32) { break }
                    i += len
                }
            }
            if i == n { return }
            let space: [UInt8] = escapeWhitespaces ? [0xE2, 0x96, 0x81] : [32]
            if addDummyPrefix { out.append(contentsOf: space) }
            var prevSpace = removeExtraWhitespaces
            while i < n {
                var (s, len) = prefix(i)
                while prevSpace && s.first == 32 { s = s.dropFirst() }
                if !s.isEmpty {
                    for b in s { if b == 32 && escapeWhitespaces { out.append(contentsOf: space) } else { out.append(b) } }
                    prevSpace = s.last == 32
                }
                i += len
                prevSpace = prevSpace && removeExtraWhitespaces
            }
            if removeExtraWhitespaces {
                while out.count >= space.count && out.suffix(space.count).elementsEqual(space) { out.removeLast(space.count) }
            }
        }
        return out
    }

    // MARK: Encoding

    public func encode(_ text: String) -> [Int] {
        let norm = normalize(text)
        guard !norm.isEmpty else { return [] }
        let segments: [(start: Int, end: Int, id: Int)] = norm.withUnsafeBufferPointer { buf in
            modelType == .bpe ? encodeBPE(buf.baseAddress!, buf.count) : encodeUnigram(buf.baseAddress!, buf.count)
        }
        var out = [Int]()
        var prevUnk = false
        for s in segments {
            let isUnk = s.id == unkId
            if isUnk && byteFallback {
                for k in s.start..<s.end { out.append(Int(byteIds[Int(norm[k])])) }
                prevUnk = false
                continue
            }
            if isUnk && prevUnk { continue } // a run of unknown pieces is one <unk>
            out.append(s.id)
            prevUnk = isUnk
        }
        return out
    }

    /// `PieceToId`: reserved pieces first, then normal ones, else `<unk>`.
    @inline(__always)
    private func pieceId(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        let r = reservedPieces.get(p, n)
        if r >= 0 { return Int(r) }
        let v = normalPieces.get(p, n)
        return v >= 0 ? Int(v) : unkId
    }

    /// `bpe_model.cc`: start from characters (user-defined pieces frozen whole), repeatedly merge the
    /// adjacent pair whose concatenation is the highest-scoring piece, leftmost on ties.
    private func encodeBPE(_ p: UnsafePointer<UInt8>, _ n: Int) -> [(start: Int, end: Int, id: Int)] {
        var start = [Int](), end = [Int](), frozen = [Bool]()
        var i = 0
        while i < n {
            let u = userDefinedMatch(p, i, n)
            let len = u > 0 ? u : scalarLength(p, i, n)
            start.append(i); end.append(i + len); frozen.append(u > 0)
            i += len
        }
        let m = start.count
        var prev = (0..<m).map { $0 - 1 }, next = (0..<m).map { $0 + 1 }
        var alive = [Bool](repeating: true, count: m)
        struct Pair: Comparable {
            var score: Float; var left: Int; var size: Int
            static func < (a: Pair, b: Pair) -> Bool { a.score != b.score ? a.score > b.score : a.left < b.left }
        }
        var heap = BinaryHeap<Pair>()
        func consider(_ l: Int, _ r: Int) {
            guard l >= 0, r < m, !frozen[l], !frozen[r] else { return }
            let size = end[r] - start[l]
            let id = normalPieces.get(p + start[l], size)
            guard id >= 0 else { return }
            heap.push(Pair(score: scores[Int(id)], left: l, size: size))
        }
        for k in 0..<(m - 1) { consider(k, k + 1) }
        while let top = heap.pop() {
            let l = top.left
            guard alive[l], next[l] < m else { continue }
            let r = next[l]
            guard end[r] - start[l] == top.size else { continue }
            end[l] = end[r]
            alive[r] = false
            next[l] = next[r]
            if next[r] < m { prev[next[r]] = l }
            if prev[l] >= 0 { consider(prev[l], l) }
            consider(l, next[l])
        }
        var out: [(start: Int, end: Int, id: Int)] = []
        var k = 0
        while k < m { out.append((start[k], end[k], pieceId(p + start[k], end[k] - start[k]))); k = next[k] }
        return out
    }

    /// `unigram_model.cc` `EncodeOptimized`: Viterbi over character boundaries with float scores;
    /// user-defined pieces score `length·max_score − 0.1`; a character no piece covers costs
    /// `min_score − 10` as `<unk>`.
    private func encodeUnigram(_ p: UnsafePointer<UInt8>, _ n: Int) -> [(start: Int, end: Int, id: Int)] {
        var bestScore = [Float](repeating: 0, count: n + 1)
        var from = [Int](repeating: -1, count: n + 1)
        var bestId = [Int](repeating: -1, count: n + 1)
        let unkScore = minScore - 10
        var s = 0
        while s < n {
            let base = bestScore[s]
            let charLen = scalarLength(p, s, n)
            var single = false
            var len = 1
            let maxLen = min(maxPieceLength, n - s)
            while len <= maxLen {
                let id = normalPieces.get(p + s, len)
                if id >= 0 && types[Int(id)] != 5 {
                    let score = types[Int(id)] == 4 ? Float(len) * maxScore - 0.1 : scores[Int(id)]
                    let cand = score + base
                    let t = s + len
                    if from[t] == -1 || cand > bestScore[t] { bestScore[t] = cand; from[t] = s; bestId[t] = Int(id) }
                    if len == charLen { single = true }
                }
                len += 1
            }
            if !single {
                let t = s + charLen
                let cand = unkScore + base
                if from[t] == -1 || cand > bestScore[t] { bestScore[t] = cand; from[t] = s; bestId[t] = unkId }
            }
            s += charLen
        }
        var out: [(start: Int, end: Int, id: Int)] = []
        var e = n
        while e > 0 {
            let b = from[e]
            out.append((b, e, bestId[e]))
            e = b
        }
        return out.reversed()
    }

    // MARK: Decoding

    /// `SentencePieceProcessor::Decode`: control pieces vanish, `<unk>` becomes the unk surface (` ⁇ `),
    /// byte pieces are gathered and decoded as UTF-8, `▁` becomes a space, and the dummy-prefix space
    /// of the first piece is dropped.
    public func decode(_ ids: [Int]) -> String {
        var out = [UInt8]()
        var bytes = [UInt8]()
        var bos = true
        func flushBytes() {
            guard !bytes.isEmpty else { return }
            // sentencepiece replaces each byte of an invalid sequence with U+FFFD.
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                let need = b < 0x80 ? 1 : b >= 0xC2 && b < 0xE0 ? 2 : b >= 0xE0 && b < 0xF0 ? 3 : b >= 0xF0 && b < 0xF5 ? 4 : 0
                if need > 0 && i + need <= bytes.count, String(validating: bytes[i..<(i + need)], as: UTF8.self) != nil {
                    out.append(contentsOf: bytes[i..<(i + need)]); i += need
                } else {
                    out.append(contentsOf: [0xEF, 0xBF, 0xBD]); i += 1
                }
            }
            bytes.removeAll()
            bos = false
        }
        for id in ids {
            guard id >= 0 && id < pieces.count else { continue }
            let t = types[id]
            if t == 6 {
                bytes.append(UInt8(pieces[id].dropFirst(3).dropLast(), radix: 16) ?? 0)
                continue
            }
            flushBytes()
            if t == 3 { continue }
            if t == 2 { out.append(contentsOf: unkSurface.utf8); bos = false; continue }
            var piece = Array(pieces[id].utf8)
            if bos && (addDummyPrefix || removeExtraWhitespaces) && piece.starts(with: [0xE2, 0x96, 0x81]) { piece.removeFirst(3) }
            var k = 0
            while k < piece.count {
                if k + 3 <= piece.count && piece[k] == 0xE2 && piece[k + 1] == 0x96 && piece[k + 2] == 0x81 { out.append(32); k += 3 }
                else { out.append(piece[k]); k += 1 }
            }
            bos = false
        }
        flushBytes()
        return String(decoding: out, as: UTF8.self)
    }
}

/// SentencePiece's compiled normalisation rules: a Darts-clone double-array trie over UTF-8 input
/// whose values index NUL-terminated replacement strings.
struct PrecompiledCharsmap: Sendable {
    private let units: [UInt32]
    private let normalized: [UInt8]

    init(_ blob: [UInt8], file: String) throws {
        guard blob.count >= 4 else { throw TokenizerError.malformed(file: file, line: nil, reason: "precompiled_charsmap shorter than its header") }
        let trieSize = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        guard trieSize % 4 == 0, 4 + trieSize <= blob.count else {
            throw TokenizerError.malformed(file: file, line: nil, reason: "precompiled_charsmap trie size \(trieSize) exceeds the blob")
        }
        var u = [UInt32](repeating: 0, count: trieSize / 4)
        for k in 0..<u.count {
            let o = 4 + 4 * k
            u[k] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        units = u
        normalized = Array(blob[(4 + trieSize)...])
        guard String(validating: normalized, as: UTF8.self) != nil else {
            throw TokenizerError.malformed(file: file, line: nil, reason: "precompiled_charsmap replacement strings are not valid UTF-8")
        }
    }

    /// The shortest rule matching a prefix of the input, as `tokenizers`' `Precompiled::transform` takes it.
    func shortestMatch(_ p: UnsafePointer<UInt8>, _ n: Int) -> ArraySlice<UInt8>? {
        matches(p, n, shortest: true)?.0
    }

    /// The longest rule matching a prefix of the input: (replacement, consumed bytes), as sentencepiece takes it.
    func longestMatch(_ p: UnsafePointer<UInt8>, _ n: Int) -> (ArraySlice<UInt8>, Int)? {
        matches(p, n, shortest: false)
    }

    private func matches(_ p: UnsafePointer<UInt8>, _ n: Int, shortest: Bool) -> (ArraySlice<UInt8>, Int)? {
        guard !units.isEmpty else { return nil }
        return units.withUnsafeBufferPointer { a -> (ArraySlice<UInt8>, Int)? in
            @inline(__always) func offset(_ x: UInt32) -> Int { Int((x >> 10) << ((x & (1 << 9)) >> 6)) }
            var pos = offset(a[0])
            var best: (value: Int, len: Int)? = nil
            for i in 0..<n {
                let c = Int(p[i])
                pos ^= c
                guard pos < a.count else { break }
                let unit = a[pos]
                if unit & ((1 << 31) | 0xFF) != UInt32(c) { break }
                pos ^= offset(unit)
                guard pos < a.count else { break }
                if (unit >> 8) & 1 == 1 {
                    best = (Int(a[pos] & 0x7FFF_FFFF), i + 1)
                    if shortest { break }
                }
            }
            guard let b = best, b.value < normalized.count else { return nil }
            var e = b.value
            while e < normalized.count && normalized[e] != 0 { e += 1 }
            return (normalized[b.value..<e], b.len)
        }
    }
}

/// A minimal protobuf wire-format reader (varint, fixed32/64, length-delimited).
struct ProtoReader {
    struct Failure: Error { let reason: String }
    enum Value { case varint(UInt64), fixed64(UInt64), bytes(ArraySlice<UInt8>), fixed32(UInt32) }
    private let data: ArraySlice<UInt8>
    private var i: Int

    init(_ data: [UInt8]) { self.data = data[...]; i = data.startIndex }
    init(_ data: ArraySlice<UInt8>) { self.data = data; i = data.startIndex }

    private mutating func varint() throws -> UInt64 {
        var r: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard i < data.endIndex else { throw Failure(reason: "truncated varint") }
            let b = data[i]; i += 1
            r |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return r }
            shift += 7
            guard shift < 64 else { throw Failure(reason: "varint too long") }
        }
    }

    mutating func next() throws -> (Int, Value)? {
        guard i < data.endIndex else { return nil }
        let key = try varint()
        let field = Int(key >> 3)
        guard field > 0 else { throw Failure(reason: "field number 0") }
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1:
            guard data.endIndex - i >= 8 else { throw Failure(reason: "truncated fixed64") }
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(data[i + k]) << (8 * UInt64(k)) }
            i += 8
            return (field, .fixed64(v))
        case 2:
            let len = try varint()
            guard len <= UInt64(data.endIndex - i) else { throw Failure(reason: "length \(len) runs past the end") }
            let s = data[i..<(i + Int(len))]
            i += Int(len)
            return (field, .bytes(s))
        case 5:
            guard data.endIndex - i >= 4 else { throw Failure(reason: "truncated fixed32") }
            var v: UInt32 = 0
            for k in 0..<4 { v |= UInt32(data[i + k]) << (8 * UInt32(k)) }
            i += 4
            return (field, .fixed32(v))
        default:
            throw Failure(reason: "wire type \(key & 7) at byte \(i)")
        }
    }
}

/// A binary min-heap under `<`.
struct BinaryHeap<T: Comparable> {
    private var items: [T] = []
    mutating func push(_ x: T) {
        items.append(x)
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            if items[c] < items[p] { items.swapAt(c, p); c = p } else { break }
        }
    }
    mutating func pop() -> T? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == p { break }
                items.swapAt(p, m); p = m
            }
        }
        return first
    }
}
