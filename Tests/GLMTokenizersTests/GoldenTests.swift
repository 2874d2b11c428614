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
    let decoded: String?
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
        guard let decoded = g.decoded else { continue }
        // decode(encode(x)) against the Python decode of the same line.
        let dec = tok.decode(ids)
        if dec != decoded {
            badDecode += 1
            if badDecode <= 5 { Issue.record("decode differs for \(g.text.debugDescription)\n ours: \(dec.debugDescription)\n gold: \(decoded.debugDescription)") }
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

@Suite struct PythonBertGoldenTests {
    /// The original GLM code's BERT tokenizer (`pytorch_pretrained_bert`, Python 3.11 / Unicode 14.0).
    @Test func idsMatchPytorchPretrainedBert() throws {
        var o = WordPieceTokenizer.Options()
        o.semantics = .pythonBasicTokenizer(unicodeVersion: (14, 0))
        let tok = try WordPieceTokenizer(vocabFile: Paths.bert.appendingPathComponent("vocab.txt"), options: o)
        let lines = try loadGoldens("bert-base-uncased-python.jsonl")
        #expect(lines.count > 2000)
        #expect(checkGoldens(tok, lines).idMismatches == 0)
        // Final sigma: Python lower-cases a word-final Σ to ς, the Rust tokenizer to σ.
        #expect(tok.encode("ΟΔΟΣ ΣΑΣ").map { tok.token(for: $0)! } == ["ο", "##δ", "##ος", "σ", "##α", "##ς"])
        let rust = try WordPieceTokenizer(vocabFile: Paths.bert.appendingPathComponent("vocab.txt"))
        #expect(rust.encode("ΣΑΣ").map { rust.token(for: $0)! } == ["σ", "##α", "##σ"])
        // Never-split words stay whole in the Python tokenizer.
        #expect(tok.encode("a [MASK] b").map { tok.token(for: $0)! } == ["a", "[MASK]", "b"])
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

/// Every scalar up to U+2FFFF in a few contexts, against block hashes of the `tokenizers` ids
/// (see Tools/goldens/make_codepoint_goldens.py).
@Suite struct EveryCodePointTests {
    struct Hashes: Decodable { let lines: Int; let block: Int; let bert: [String]; let gpt2: [String]; let bertPython: [String]
        enum CodingKeys: String, CodingKey { case lines, block, bert = "bert-base-uncased", gpt2, bertPython = "bert-base-uncased-python" }
    }

    static func blockHashes(_ tok: any TextTokenizer, block: Int) -> (hashes: [String], lines: Int) {
        var cps = [UInt32]()
        for cp in UInt32(1)..<0x30000 where !(0xD800..<0xE000).contains(cp) && cp != 0x0A && cp != 0x0D { cps.append(cp) }
        var out = [String]()
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for (i, cp) in cps.enumerated() {
            let c = String(Character(Unicode.Scalar(cp)!))
            let line = "x " + c + "b a" + c + "1 " + c + c + " é" + c
            for b in (tok.encode(line).map(String.init).joined(separator: ",") + "\n").utf8 {
                h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3
            }
            if (i + 1) % block == 0 || i + 1 == cps.count {
                out.append(String(h, radix: 16).leftPadded(16))
                h = 0xcbf2_9ce4_8422_2325
            }
        }
        return (out, cps.count)
    }

    @Test func bertAndGPT2AgreeOnEveryScalar() throws {
        let g = try JSONDecoder().decode(Hashes.self, from: Data(contentsOf: Paths.golden("codepoints.json")))
        let bert = try WordPieceTokenizer(vocabFile: Paths.bert.appendingPathComponent("vocab.txt"))
        let gpt2 = try ByteLevelBPETokenizer(vocabFile: Paths.gpt2.appendingPathComponent("encoder.json"), mergesFile: Paths.gpt2.appendingPathComponent("vocab.bpe"))
        var o = WordPieceTokenizer.Options()
        o.semantics = .pythonBasicTokenizer(unicodeVersion: (14, 0))
        let python = try WordPieceTokenizer(vocabFile: Paths.bert.appendingPathComponent("vocab.txt"), options: o)
        for (name, tok, want) in [("bert", bert as any TextTokenizer, g.bert), ("gpt2", gpt2, g.gpt2), ("bert-python", python, g.bertPython)] {
            let (got, n) = EveryCodePointTests.blockHashes(tok, block: g.block)
            #expect(n == g.lines)
            let bad = zip(got, want).enumerated().filter { $0.element.0 != $0.element.1 }.map { String(format: "U+%04X…", $0.offset * g.block) }
            #expect(bad.isEmpty, "\(name): blocks differ starting near \(bad.prefix(8))")
        }
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
