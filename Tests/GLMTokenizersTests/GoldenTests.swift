import Foundation
import Testing
import GLMTokenizers

/// Repo paths: the vocab files live in Resources/tokenizers (shared with the CLI and other targets);
/// goldens are the test bundle's resources.
enum Paths {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let bert = repo.appendingPathComponent("Resources/tokenizers/bert-base-uncased")
    static let gpt2 = repo.appendingPathComponent("Resources/tokenizers/gpt2")
    static func golden(_ name: String) -> URL {
        Bundle.module.url(forResource: "Goldens", withExtension: nil)!.appendingPathComponent(name)
    }
}

struct GoldenLine: Decodable {
    let text: String
    let ids: [Int]
    let decoded: String
}

func loadGoldens(_ name: String) throws -> [GoldenLine] {
    let data = try Data(contentsOf: Paths.golden(name))
    return try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(GoldenLine.self, from: Data($0)) }
}

/// Compares every golden line and reports the first few mismatches in full.
func checkGoldens(_ tok: any TextTokenizer, _ lines: [GoldenLine]) -> (idMismatches: Int, decodeMismatches: Int) {
    var bad = 0, badDecode = 0
    for g in lines {
        let ids = tok.encode(g.text)
        if ids != g.ids {
            bad += 1
            if bad <= 5 {
                Issue.record("ids differ for \(g.text.debugDescription)\n ours: \(ids.map { tok.token(for: $0) ?? "?" })\n gold: \(g.ids.map { tok.token(for: $0) ?? "?" })")
            }
        }
        let dec = tok.decode(g.ids)
        if dec != g.decoded {
            badDecode += 1
            if badDecode <= 5 { Issue.record("decode differs for \(g.text.debugDescription)\n ours: \(dec.debugDescription)\n gold: \(g.decoded.debugDescription)") }
        }
    }
    return (bad, badDecode)
}

@Suite struct WordPieceGoldenTests {
    @Test func idsAndDecodeMatchTokenizers() throws {
        let tok = try WordPieceTokenizer(vocabFile: Paths.bert.appendingPathComponent("vocab.txt"))
        let lines = try loadGoldens("bert-base-uncased.jsonl")
        #expect(lines.count > 2000)
        let r = checkGoldens(tok, lines)
        #expect(r.idMismatches == 0)
        #expect(r.decodeMismatches == 0)
    }
}

@Suite struct ByteLevelBPEGoldenTests {
    @Test func idsAndDecodeMatchTokenizers() throws {
        let dir = Paths.gpt2
        let tok = try ByteLevelBPETokenizer(vocabFile: dir.appendingPathComponent("encoder.json"), mergesFile: dir.appendingPathComponent("vocab.bpe"))
        let lines = try loadGoldens("gpt2.jsonl")
        #expect(lines.count > 2000)
        let r = checkGoldens(tok, lines)
        #expect(r.idMismatches == 0)
        #expect(r.decodeMismatches == 0)
        // A second pass is served from the word cache and must give the same ids.
        #expect(checkGoldens(tok, lines).idMismatches == 0)
    }
}

@Suite struct SentencePieceGoldenTests {
    @Test(arguments: ["sp-bpe", "sp-unigram", "sp-unigram-nobf"])
    func idsAndDecodeMatchSentencepiece(_ name: String) throws {
        let tok = try SentencePieceTokenizer(modelFile: Paths.golden(name + ".model"))
        let lines = try loadGoldens(name + ".jsonl")
        #expect(lines.count > 1000)
        let r = checkGoldens(tok, lines)
        #expect(r.idMismatches == 0)
        #expect(r.decodeMismatches == 0)
    }
}

@Suite struct TokenizerJSONGoldenTests {
    @Test(arguments: ["wordpiece-uncased", "wordpiece-cased", "bytelevel-bpe", "unigram"])
    func idsAndDecodeMatchTokenizers(_ name: String) throws {
        let tok = try HFTokenizerJSON.load(Paths.golden("hf-\(name)/tokenizer.json"))
        let lines = try loadGoldens("hf-\(name).jsonl")
        #expect(lines.count > 800)
        let r = checkGoldens(tok, lines)
        #expect(r.idMismatches == 0)
        #expect(r.decodeMismatches == 0)
    }
}
