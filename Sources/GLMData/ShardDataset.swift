import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GLMSystem
import GLMTokenizers

/// One packed pretraining sample (docs/official-glm.md §4.1): `[CLS] doc [eos] [CLS] doc' …` or a sentence-aligned crop
/// of one long document, at most `seqLength` tokens, not yet padded.
public struct PackedSample: Sendable, Equatable {
    /// Token ids.
    public var tokens: [Int32]
    /// 1 where the token may carry loss in document mode's suffix form (document tokens and eos), 0 on `[CLS]`.
    public var lossMask: [UInt8]

    public init(tokens: [Int32], lossMask: [UInt8]) { self.tokens = tokens; self.lossMask = lossMask }
    public var count: Int { tokens.count }
}

/// A tokenised corpus on disk (a `glm prepare` folder), memory-mapped and never loaded whole.
///
/// Documents are drawn in proportion to their length and packed per docs/official-glm.md §4.1 by
/// ``sample(index:seed:seqLength:)``, a pure function of `(seed, index)`: resuming a run at sample `i`
/// reproduces exactly the data it would have seen.
public final class ShardDataset: @unchecked Sendable {
    // Safety: all state is immutable after init; the mappings are read-only.
    public let folder: URL
    public let manifest: ShardManifest
    /// Sentence-end ids from the manifest, used to snap crops to sentence boundaries.
    public let sentenceEnds: SentenceEnds
    public var commands: CommandTokens { manifest.tokenizer.commands }

    private let tokenFiles: [MappedFile]
    private let indexFiles: [MappedFile]
    /// Global token offset of each shard's first token, plus the total at the end.
    private let shardTokenStarts: [Int]
    /// Global document number of each shard's first document, plus the total at the end.
    private let shardDocStarts: [Int]
    private let wide: Bool

    /// Opens a shard folder and checks every file against the manifest.
    ///
    /// - Parameter tokenizerIdentity: when given, the manifest's tokenizer identity must equal it
    ///   (shards made by another vocabulary would silently train garbage).
    public init(folder: URL, tokenizerIdentity: String? = nil) throws {
        self.folder = folder
        let m = try ShardManifest.read(folder: folder)
        if let want = tokenizerIdentity, want != m.tokenizer.identity {
            throw GLMDataError.tokenizerMismatch(folder: folder.path, expected: want, found: m.tokenizer.identity)
        }
        manifest = m
        wide = m.dtype == "uint32"
        sentenceEnds = SentenceEnds(ids: m.tokenizer.sentenceEndIds, size: m.tokenizer.numTokens)
        var tf = [MappedFile](), xf = [MappedFile]()
        var ts = [0], ds = [0]
        for s in m.shards {
            let tPath = folder.appendingPathComponent(s.tokens).path
            let iPath = folder.appendingPathComponent(s.index).path
            let t = try ShardDataset.map(tPath)
            let x = try ShardDataset.map(iPath)
            // `ShardManifest.validate` has checked that these products and sums fit in an Int.
            let tokenBytes = s.tokenCount * m.bytesPerToken, indexBytes = (s.documents + 1) * 8
            if t.count != tokenBytes {
                throw GLMDataError.shardSizeMismatch(path: tPath, expectedBytes: tokenBytes, actualBytes: t.count)
            }
            if x.count != indexBytes {
                throw GLMDataError.shardSizeMismatch(path: iPath, expectedBytes: indexBytes, actualBytes: x.count)
            }
            try ShardDataset.checkOffsets(x, documents: s.documents, tokenCount: s.tokenCount, path: iPath)
            tf.append(t); xf.append(x)
            ts.append(ts[ts.count - 1] + s.tokenCount); ds.append(ds[ds.count - 1] + s.documents)
        }
        tokenFiles = tf; indexFiles = xf; shardTokenStarts = ts; shardDocStarts = ds
        if ts[ts.count - 1] == 0 { throw GLMDataError.emptyDataset(folder: folder.path) }
    }

    private static func map(_ path: String) throws -> MappedFile {
        do { return try MappedFile(URL(fileURLWithPath: path)) } catch let e as SystemError {
            throw GLMDataError.unreadable(path: path, reason: "\(e)")
        }
    }

    /// Every offset of an index file, not just the ends: 0 first, `tokenCount` last, never
    /// decreasing. Packing reads tokens `offset(d)..<offset(d+1)` straight from the mapping, so one
    /// bad offset would read outside the token file.
    static func checkOffsets(_ x: MappedFile, documents: Int, tokenCount: Int, path: String) throws {
        guard let base = x.base else { throw GLMDataError.badIndex(path: path, reason: "empty index file") }
        var previous: UInt64 = 0
        let limit = UInt64(tokenCount)
        for d in 0...documents {
            let o = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: d * 8, as: UInt64.self))
            if d == 0, o != 0 { throw GLMDataError.badIndex(path: path, reason: "offset 0 is \(o), must be 0") }
            guard o >= previous else {
                throw GLMDataError.badIndex(path: path, reason: "offset \(d) is \(o), smaller than offset \(d - 1) (\(previous)); offsets must not decrease")
            }
            guard o <= limit else {
                throw GLMDataError.badIndex(path: path, reason: "offset \(d) is \(o), past the \(tokenCount) tokens of the shard")
            }
            previous = o
        }
        guard previous == limit else {
            throw GLMDataError.badIndex(path: path, reason: "the last offset is \(previous), must be the shard's \(tokenCount) tokens")
        }
    }

    /// Number of documents in all shards.
    public var documentCount: Int { shardDocStarts.last! }
    /// Number of tokens in all shards (without the eos added by packing).
    public var tokenCount: Int { shardTokenStarts.last! }

    @inline(__always) private func offset(shard: Int, doc: Int) -> Int {
        // Checked at open: every offset lies in 0...tokenCount.
        Int(UInt64(littleEndian: indexFiles[shard].base!.loadUnaligned(fromByteOffset: doc * 8, as: UInt64.self)))
    }

    @inline(__always) private func token(shard: Int, at i: Int) -> Int32 {
        let b = tokenFiles[shard].base!
        return wide ? Int32(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                    : Int32(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
    }

    /// Location of document `i`: shard, first token, length.
    private func locate(_ i: Int) -> (shard: Int, start: Int, length: Int) {
        precondition(i >= 0 && i < documentCount, "document \(i) out of range")
        let s = upperBound(shardDocStarts, i) - 1
        let d = i - shardDocStarts[s]
        let a = offset(shard: s, doc: d), b = offset(shard: s, doc: d + 1)
        return (s, a, b - a)
    }

    /// The token ids of document `i` (without eos).
    public func document(_ i: Int) -> [Int32] {
        let (s, a, n) = locate(i)
        return (0..<n).map { token(shard: s, at: a + $0) }
    }

    /// The length in tokens of document `i`.
    public func documentLength(_ i: Int) -> Int { locate(i).length }

    /// A document drawn with probability proportional to its length: a uniform token position,
    /// then the document that holds it (two binary searches, no per-document table in memory).
    public func drawDocument(_ rng: inout GLMRandom) -> Int {
        let pos = rng.int(below: tokenCount)
        let s = upperBound(shardTokenStarts, pos) - 1
        let local = pos - shardTokenStarts[s]
        // Largest doc d with offset(d) <= local (empty documents are never written).
        var lo = 0, hi = manifest.shards[s].documents  // invariant: offset(lo) <= local < offset(hi)
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if offset(shard: s, doc: mid) <= local { lo = mid } else { hi = mid }
        }
        return shardDocStarts[s] + lo
    }

    /// Packed sample `index` of the stream with this `seed` (docs/official-glm.md §4.1, `BlockDataset.__getitem__`).
    ///
    /// - A document of more than `seqLength − 1` tokens (counting its eos) is cropped: a random left cut,
    ///   moved (50/50 left or right, at most `seqLength/2` tokens) to just after a sentence end; `[CLS]`
    ///   in front; the right end cut after a sentence end if at least half the room remains.
    /// - Shorter documents become `[CLS] doc [eos]`, followed by more drawn documents until
    ///   `seqLength` is reached; the last one is right-stripped the same way.
    public func sample(index: Int, seed: UInt64, seqLength: Int) -> PackedSample {
        var rng = GLMRandom(seed: seed, stream: .packing, index: index)
        return pack(seqLength: seqLength, rng: &rng)
    }

    func pack(seqLength S: Int, rng: inout GLMRandom) -> PackedSample {
        let cls = Int32(commands.cls), eos = Int32(commands.eos)
        var tokens = [Int32](), loss = [UInt8]()
        tokens.reserveCapacity(S); loss.reserveCapacity(S)

        let (s0, a0, n0) = locate(drawDocument(&rng))
        let len0 = n0 + 1  // with eos
        @inline(__always) func tok(_ s: Int, _ a: Int, _ n: Int, _ i: Int) -> Int32 { i < n ? token(shard: s, at: a + i) : eos }

        let toStrip = len0 - S + 1
        if toStrip > 0 {
            var left = rng.int(below: toStrip)
            let start = left
            var moved = 0
            if rng.unit() < 0.5 {
                while moved < S / 2 && left > 0 && !sentenceEnds.contains(tok(s0, a0, n0, left - 1)) { left -= 1; moved += 1 }
            } else {
                // left == 0 is a document start, hence already a sentence start.
                while moved < S / 2 && left > 0 && left < len0 && !sentenceEnds.contains(tok(s0, a0, n0, left - 1)) {
                    left += 1; moved += 1
                }
            }
            if len0 - left < 2 { left = start }  // never leave a bare [CLS]
            // Right-strip [CLS] + tokens[left...] to S without materialising the whole document.
            let total = 1 + (len0 - left)
            let keep = rightStripLength(total: total, room: S) { i in i == 0 ? cls : tok(s0, a0, n0, left + i - 1) }
            tokens.append(cls); loss.append(0)
            for i in left..<(left + keep - 1) { tokens.append(tok(s0, a0, n0, i)); loss.append(1) }
            return PackedSample(tokens: tokens, lossMask: loss)
        }

        tokens.append(cls); loss.append(0)
        for i in 0..<len0 { tokens.append(tok(s0, a0, n0, i)); loss.append(1) }
        while tokens.count < S {
            let (s, a, n) = locate(drawDocument(&rng))
            let room = S - tokens.count
            let total = n + 2  // [CLS] doc [eos]
            let isLast = total >= room
            let keep = rightStripLength(total: total, room: room) { i in i == 0 ? cls : tok(s, a, n, i - 1) }
            tokens.append(cls); loss.append(0)
            if keep > 1 { for i in 0..<(keep - 1) { tokens.append(tok(s, a, n, i)); loss.append(1) } }
            if isLast { break }
        }
        return PackedSample(tokens: tokens, lossMask: loss)
    }

    /// `right_strip_seq`: how many of `total` tokens to keep so at most `room` remain, cutting after a
    /// sentence end when that keeps at least `room/2` tokens.
    @inline(__always)
    private func rightStripLength(total: Int, room: Int, _ at: (Int) -> Int32) -> Int {
        var strip = total - room
        guard strip > 0 else { return total }
        while strip < total - 1 && !sentenceEnds.contains(at(total - strip - 1)) { strip += 1 }
        if total - strip < room / 2 { strip = total - room }
        return total - strip
    }
}

/// Index of the first element of a sorted array that is greater than `x`.
@inline(__always) func upperBound(_ a: [Int], _ x: Int) -> Int {
    var lo = 0, hi = a.count
    while lo < hi {
        let mid = (lo + hi) / 2
        if a[mid] <= x { lo = mid + 1 } else { hi = mid }
    }
    return lo
}
