import Foundation
import GLMData
import GLMTokenizers
import XCTest

/// A tiny word-level tokenizer for tests: lower-cased words and single punctuation marks, against a
/// vocabulary built from the words it is given. Unknown words map to [UNK].
struct WordTokenizer: TextTokenizer {
    let words: [String]
    let index: [String: Int]
    static let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    init(vocabulary: [String]) {
        var w = WordTokenizer.specials
        var seen = Set(w)
        for v in vocabulary where !seen.contains(v) { w.append(v); seen.insert(v) }
        words = w
        index = Dictionary(uniqueKeysWithValues: w.enumerated().map { ($1, $0) })
    }

    static func pieces(_ text: String) -> [String] {
        var out = [String](), cur = ""
        for ch in text.lowercased() {
            if ch.isLetter || ch.isNumber { cur.append(ch); continue }
            if !cur.isEmpty { out.append(cur); cur = "" }
            if !ch.isWhitespace { out.append(String(ch)) }
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    func encode(_ text: String) -> [Int] { WordTokenizer.pieces(text).map { index[$0] ?? 1 } }
    func decode(_ ids: [Int]) -> String { ids.compactMap { token(for: $0) }.joined(separator: " ") }
    func token(for id: Int) -> String? { id >= 0 && id < words.count ? words[id] : nil }
    func id(for token: String) -> Int? { index[token] }
    var vocabularySize: Int { words.count }
}

/// Deterministic synthetic prose: sentences of 3–25 words ending in . ? ! or ;.
enum Prose {
    static let lexicon = (0..<200).map { "w\($0)" }

    static func document(seed: UInt64, sentences: Int) -> String {
        var rng = GLMRandom(seed: seed)
        var s = [String]()
        for _ in 0..<sentences {
            let n = 3 + rng.int(below: 23)
            let words = (0..<n).map { _ in lexicon[rng.int(below: lexicon.count)] }
            let end = [".", "?", "!", ";"][rng.int(below: 4)]
            s.append(words.joined(separator: " ") + end)
        }
        return s.joined(separator: " ")
    }
}

struct Fixture {
    let text: WordTokenizer
    let tokenizer: DataTokenizer
    let commands: CommandTokens

    init(identity: String = "test-words-v1", extraVocabulary: Int = 0) {
        var vocab = Prose.lexicon + [".", "?", "!", ";", ",", ":"]
        vocab += (0..<extraVocabulary).map { "x\($0)" }
        text = WordTokenizer(vocabulary: vocab)
        let v = text.vocabularySize
        commands = CommandTokens(pad: 0, eos: 0, cls: 2, sep: 3, mask: 4, unk: 1, sop: v, eop: v + 1,
                                 gMask: v + 2, sMask: v + 3, dBlock: v + 4)
        let strings = [v: "<|startofpiece|>", v + 1: "<|endofpiece|>", v + 2: "[gMASK]", v + 3: "[sMASK]", v + 4: "[dBLOCK]"]
        tokenizer = DataTokenizer(text: text, commands: commands, numTokens: v + 5, identity: identity,
                                  commandStrings: strings, folder: "/nonexistent/test-tokenizer")
    }

    /// The same commands without task masks and dBLOCK, like the BERT vocabulary.
    var bertLikeCommands: CommandTokens {
        var c = commands; c.gMask = nil; c.sMask = nil; c.dBlock = nil; return c
    }

    var sentenceEnds: SentenceEnds { SentenceEnds(ids: tokenizer.sentenceEndIds(), size: tokenizer.numTokens) }
}

func temporaryFolder(_ name: String = #function) -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("glmdata-\(safe)-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes `docs` as one file each and prepares a shard folder from them.
func makeShards(_ docs: [String], fixture: Fixture = Fixture(), options: PrepareOptions = PrepareOptions(),
                name: String = #function) throws -> (folder: URL, manifest: ShardManifest) {
    let root = temporaryFolder(name)
    let input = root.appendingPathComponent("input")
    try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    for (i, d) in docs.enumerated() {
        try d.write(to: input.appendingPathComponent(String(format: "doc-%04d.txt", i)), atomically: true, encoding: .utf8)
    }
    let out = root.appendingPathComponent("shards")
    let m = try CorpusPreparer.prepare(inputs: [input], tokenizer: fixture.tokenizer, output: out, options: options)
    return (out, m)
}

/// A mixed corpus: many short documents and a few long ones.
func standardCorpus(short: Int = 40, long: Int = 4) -> [String] {
    (0..<short).map { Prose.document(seed: UInt64($0), sentences: 1 + $0 % 6) }
        + (0..<long).map { Prose.document(seed: UInt64(1000 + $0), sentences: 80 + 20 * $0) }
}
