import Foundation
import Testing
import GLMTokenizers

/// A stand-in text tokenizer of a given size, for checking id layouts of vocabularies not bundled
/// here (cog-pretrain.model, the RoBERTa vocab).
struct SizedVocab: TextTokenizer {
    let size: Int
    let named: [String: Int]
    func encode(_ text: String) -> [Int] { [] }
    func decode(_ ids: [Int]) -> String { "" }
    func token(for id: Int) -> String? { named.first { $0.value == id }?.key ?? (id < size ? "t\(id)" : nil) }
    func id(for token: String) -> Int? { named[token] }
    var vocabularySize: Int { size }
}

func tempFolder(_ files: [String: String]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glmtok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, text) in files { try Data(text.utf8).write(to: dir.appendingPathComponent(name)) }
    return dir
}

@Suite struct GLMLayoutTests {
    @Test func bertIdsMatchOfficialGLM3_1() throws {
        let t = try GLMTokenizer(folder: Paths.bert)
        #expect(t.family == .bertWordPiece)
        #expect(t.commands == CommandTokens(pad: 0, eos: 0, cls: 101, sep: 102, mask: 103, unk: 100, sop: 30522, eop: 30523))
        #expect(t.numTokens == 30524)
        #expect(t.paddedVocabSize == 30592)
        #expect(t.tokenString(30522) == "<|startofpiece|>")
        #expect(t.tokenString(30523) == "<|endofpiece|>")
        #expect(t.tokenString(103) == "[MASK]")
        #expect(t.tokenString(2023) == "this")
        #expect(t.tokenString(30524) == nil)
        #expect(t.identity == "bertWordPiece:07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3")
        // vocab.txt folders split text as the original GLM code's Python BertTokenizer does.
        #expect(t.text.encode("ΣΑΣ").map { t.tokenString($0)! } == ["σ", "##α", "##ς"])
    }

    @Test func gpt2IdsMatchOfficialGLM3_2() throws {
        let t = try GLMTokenizer(folder: Paths.gpt2)
        #expect(t.family == .gpt2)
        #expect(t.commands == CommandTokens(pad: 50256, eos: 50256, cls: 50259, sep: 50261, mask: 50260, unk: 50262,
                                            sop: 50257, eop: 50258, gMask: 50263, sMask: 50264))
        #expect(t.numTokens == 50265)
        #expect(t.paddedVocabSize == 50304)
        #expect(t.identity == "gpt2:00f404d36600411e497efb3df08d3b4e094f0820e2595afcb7cbd0c4353d4fcb")
        #expect(t.commandList.filter(\.lstrip).map(\.token) == ["[MASK]", "[gMASK]", "[sMASK]"])
    }

    @Test func robertaIdsMatchOfficialGLM3_3() throws {
        let v = SizedVocab(size: 50265, named: ["<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 50264])
        let t = try GLMTokenizer(family: .roberta, text: v)
        #expect(t.commands == CommandTokens(pad: 2, eos: 2, cls: 0, sep: 2, mask: 50264, unk: 3, sop: 50265, eop: 50266))
        #expect(t.numTokens == 50267)
        #expect(t.paddedVocabSize == 50304)
        #expect(t.tokenString(2) == "[SEP]") // the official command_id_map: the last command with id 2 is sep
    }

    @Test func chineseIdsMatchOfficialGLM3_4() throws {
        let v = SizedVocab(size: 50000, named: [:])
        let fixed = try GLMTokenizer(family: .chineseSPFixed, text: v)
        #expect(fixed.commands == CommandTokens(pad: 50000, eos: 50000, cls: 50002, sep: 50001, mask: 50003, unk: 50004,
                                                sop: 50006, eop: 50007, gMask: 50009, sMask: 50008))
        #expect(fixed.numTokens == 50010)
        #expect(fixed.paddedVocabSize == 50048)
        let quirk = try GLMTokenizer(family: .chineseSP, text: v)
        #expect(quirk.commands == CommandTokens(pad: 50000, eos: 50000, cls: 50002, sep: 50001, mask: 50003, unk: 50004,
                                                sop: 50006, eop: 50007, gMask: 50007, sMask: 50008))
        #expect(quirk.numTokens == 50009)
        #expect(quirk.paddedVocabSize == 50048)
        #expect(quirk.tokenString(50007) == "[gMASK]") // gMASK is listed after eop and wins, as in the official code
        #expect(quirk.encode("a [gMASK]") == [50007])  // "a" encodes to nothing with this stand-in vocab
    }

    @Test func smallCustomBertVocab() throws {
        let dir = try tempFolder(["vocab.txt": "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n,\n"])
        let t = try GLMTokenizer(folder: dir)
        #expect(t.commands == CommandTokens(pad: 0, eos: 0, cls: 2, sep: 3, mask: 4, unk: 1, sop: 9, eop: 10))
        #expect(t.numTokens == 11)
        #expect(t.paddedVocabSize == 128)
        #expect(t.encode("Hello, worlds [MASK] xyz", addSpecial: true) == [2, 5, 8, 6, 7, 4, 1, 0])
    }

    @Test func familyFromTokenizerConfig() throws {
        let dir = try tempFolder(["vocab.txt": "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", "tokenizer_config.json": #"{"glm_family": "bertWordPiece"}"#])
        #expect(try GLMTokenizer(folder: dir).family == .bertWordPiece)
        try Data(#"{"glm_family": "llama"}"#.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        #expect(throws: TokenizerError.self) { try GLMTokenizer(folder: dir) }
        try Data(#"{"glm_family": "gpt2"}"#.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        #expect(throws: TokenizerError.unsupported(file: dir.path, feature: "the config names family gpt2, but the folder has none of its files")) {
            try GLMTokenizer(folder: dir)
        }
        let sp = try tempFolder([:])
        try FileManager.default.copyItem(at: Paths.golden("sp-bpe.model"), to: sp.appendingPathComponent("cog.model"))
        #expect(try GLMTokenizer(folder: sp).family == .chineseSPFixed)
        try Data(#"{"glm_family": "chineseSP"}"#.utf8).write(to: sp.appendingPathComponent("tokenizer_config.json"))
        let quirk = try GLMTokenizer(folder: sp)
        #expect(quirk.family == .chineseSP)
        #expect(quirk.commands.gMask == quirk.commands.eop)
        #expect(quirk.numTokens == 1509)
    }
}

@Suite struct GLMEncodeTests {
    static let gpt2 = try! GLMTokenizer(folder: Paths.gpt2)
    static let bert = try! GLMTokenizer(folder: Paths.bert)

    @Test func commandTokensAreSplitOutWithLstrip() {
        let t = GLMEncodeTests.gpt2
        let enc = { (s: String) in t.text.encode(s) }
        // docs/official-glm.md §3.5: "…located in [MASK]." is enc("…located in") + [MASK] + enc(".")
        #expect(t.encode("Beijing is located in [MASK].") == enc("Beijing is located in") + [50260] + enc("."))
        #expect(t.encode("a \t [gMASK] b") == enc("a") + [50263] + enc(" b"))
        #expect(t.encode("x [sMASK]") == enc("x") + [50264])
        // [CLS] and [SEP] are not lstrip: the space before them stays in the text piece.
        #expect(t.encode("a [CLS] b [SEP]") == enc("a ") + [50259] + enc(" b ") + [50261])
        #expect(t.encode("one<|endoftext|>two") == enc("one") + [50256] + enc("two"))
        #expect(t.encode("<|startofpiece|>x<|endofpiece|>") == [50257] + enc("x") + [50258])
        #expect(t.encode("[MASK][MASK]") == [50260, 50260])
        #expect(t.encode("[MASK") == enc("[MASK"))
        #expect(t.encode("[mask]") == enc("[mask]"))
    }

    @Test func addSpecialAndWhitespaceOnly() {
        let t = GLMEncodeTests.gpt2
        #expect(t.encode("hi", addSpecial: true) == [50259] + t.text.encode("hi") + [50256])
        // The official EncodeAsIds returns nothing for whitespace-only text.
        #expect(t.encode("   ") == [])
        #expect(t.encode(" \n\t", addSpecial: true) == [50259, 50256])
        #expect(t.encode("") == [])
        let b = GLMEncodeTests.bert
        #expect(b.encode("Hello world", addSpecial: true) == [101, 7592, 2088, 0])
        #expect(b.encode("the capital is [MASK].") == [1996, 3007, 2003, 103, 1012])
    }

    @Test func decodeIsReadable() {
        let b = GLMEncodeTests.bert
        #expect(b.decode(b.encode("Hello, World! It's [MASK] time.", addSpecial: true)) == "[CLS] hello, world! it ' s [MASK] time. [PAD]") // as tokenizers' WordPiece decoder gives it
        #expect(b.decode(b.encode("unaffable tokenization")) == "unaffable tokenization")
        let g = GLMEncodeTests.gpt2
        let s = "Héllo wörld 😀 — “quotes”\n\ttabs  and  spaces"
        #expect(g.decode(g.encode(s)) == s)
        #expect(g.decode(g.encode("a [MASK] b<|endoftext|>")) == "a[MASK] b<|endoftext|>")
        #expect(g.decode([50257, 15496, 50258]) == "<|startofpiece|>Hello<|endofpiece|>")
    }

    @Test func concurrentEncodingAgrees() async throws {
        let t = GLMEncodeTests.gpt2
        let lines = try loadGoldens("gpt2.jsonl")
        let ok = await withTaskGroup(of: Bool.self) { group in
            for k in 0..<4 {
                group.addTask { lines.enumerated().allSatisfy { i, g in i % 4 != k || t.text.encode(g.text) == g.ids } }
            }
            return await group.reduce(true) { $0 && $1 }
        }
        #expect(ok)
    }
}

@Suite struct BadInputTests {
    @Test func invalidUTF8IsReplacedAndCounted() {
        let (s, n) = TextInput.decodeUTF8([0x61, 0xFF, 0x62, 0xE2, 0x82, 0x63, 0xED, 0xA0, 0x80])
        #expect(s == "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(n == 5)
        let (lines, r) = TextInput.lines(Array("one\r\ntwo\n\nbad\u{1}".utf8) + [0xC0, 0x0A, 0x66])
        #expect(lines == ["one", "two", "", "bad\u{1}\u{FFFD}", "f"])
        #expect(r == 1)
        #expect(TextInput.lines([]).lines.isEmpty)
        let bert = GLMEncodeTests.bert
        #expect(bert.encode(s) == bert.encode("abc"))
    }

    @Test func textOfAnyLength() {
        let g = GLMEncodeTests.gpt2, b = GLMEncodeTests.bert
        let long = String(repeating: "x", count: 200_000)
        #expect(g.decode(g.encode(long)) == long)
        #expect(b.encode(long) == [100])
        let mixed = String(repeating: "Lorem ipsum, dolor sit — 中文 ámet! ", count: 20_000)
        #expect(g.decode(g.encode(mixed)) == mixed)
        #expect(b.encode(mixed).count > 100_000)
        #expect(g.encode("").isEmpty && b.encode("").isEmpty)
    }

    @Test func missingAndMalformedFilesNameTheFile() throws {
        func message(_ f: () throws -> Any) -> String {
            do { _ = try f(); return "no error" } catch let e as TokenizerError { return e.description } catch { return "untyped \(error)" }
        }
        let empty = try tempFolder([:])
        #expect(message { try GLMTokenizer(folder: empty) }.contains("no tokenizer files"))
        #expect(message { try GLMTokenizer(folder: empty.appendingPathComponent("nope")) }.contains("nope"))
        let noMask = try tempFolder(["vocab.txt": "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n"])
        #expect(message { try GLMTokenizer(folder: noMask) } == "\(noMask.path)/vocab.txt: the vocabulary has no entry [MASK]")
        let emptyVocab = try tempFolder(["vocab.txt": ""])
        #expect(message { try GLMTokenizer(folder: emptyVocab) }.contains("vocab.txt: malformed: empty vocabulary"))
        let badJSON = try tempFolder(["vocab.json": "{\"a\": 0,", "merges.txt": "#version: 0.2\n"])
        #expect(message { try GLMTokenizer(folder: badJSON) }.contains("vocab.json: malformed: not valid JSON"))
        let badMerges = try tempFolder(["vocab.json": #"{"a": 0, "b": 1, "ab": 2, "<|endoftext|>": 3}"#, "merges.txt": "#version: 0.2\na b\nab\n"])
        #expect(message { try GLMTokenizer(folder: badMerges) }.contains("merges.txt:3: malformed"))
        let unknownMerge = try tempFolder(["vocab.json": #"{"a": 0, "b": 1, "<|endoftext|>": 2}"#, "merges.txt": "a b\n"])
        #expect(message { try GLMTokenizer(folder: unknownMerge) }.contains("makes ab, which is missing"))
        let okBPE = try tempFolder(["vocab.json": #"{"a": 0, "b": 1, "ab": 2, "<|endoftext|>": 3}"#, "merges.txt": "a b\n"])
        let tiny = try GLMTokenizer(folder: okBPE)
        #expect(tiny.family == .gpt2 && tiny.text.encode("abab") == [2, 2] && tiny.numTokens == 12)
        let badModel = try tempFolder(["x.model": "this is not a protobuf"])
        #expect(message { try GLMTokenizer(folder: badModel) }.contains("x.model: malformed"))
        let truncated = try tempFolder([:])
        let model = try Data(contentsOf: Paths.golden("sp-unigram.model"))
        try model.prefix(model.count / 2).write(to: truncated.appendingPathComponent("sp.model"))
        #expect(message { try GLMTokenizer(folder: truncated) }.contains("sp.model: malformed"))
        #expect(message { try WordPieceTokenizer(vocabFile: empty.appendingPathComponent("vocab.txt")) }.contains("vocab.txt: cannot read"))
    }
}

/// Damaged inputs must give an error or a result, never a trap.
@Suite struct RobustnessTests {
    struct LCG { var s: UInt64; mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 33 } }

    /// Reaching the end without a trap is the assertion: each damaged model either loads or throws.
    @Test func corruptedModelsNeverTrap() throws {
        var rng = LCG(s: 42)
        for name in ["sp-bpe.model", "sp-unigram.model", "sp-unigram-nobf.model"] {
            let original = [UInt8](try Data(contentsOf: Paths.golden(name)))
            for _ in 0..<60 {
                var bytes = original
                for _ in 0..<(1 + Int(rng.next() % 8)) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(rng.next() & 0xFF) }
                if rng.next() % 4 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count))) }
                guard let t = try? SentencePieceTokenizer(modelData: bytes, file: name) else { continue }
                for s in ["Hello  wörld 😀 ｶﾀｶﾅ", "", "   ", "中文<n>"] { _ = t.decode(t.encode(s)) }
                _ = t.decode([-1, 0, 1, 5, 100_000])
            }
        }
    }

    @Test func randomBytesThroughEveryTokenizer() throws {
        var rng = LCG(s: 7)
        let toks: [any TextTokenizer] = [
            GLMEncodeTests.bert.text, GLMEncodeTests.gpt2.text,
            try SentencePieceTokenizer(modelFile: Paths.golden("sp-bpe.model")),
            try SentencePieceTokenizer(modelFile: Paths.golden("sp-unigram.model")),
            try HFTokenizerJSON.load(Paths.golden("hf-unigram/tokenizer.json")),
        ]
        for _ in 0..<300 {
            let n = Int(rng.next() % 64)
            let bytes = (0..<n).map { _ in UInt8(rng.next() & 0xFF) }
            let (text, _) = TextInput.decodeUTF8(bytes)
            for t in toks {
                let ids = t.encode(text)
                #expect(ids.allSatisfy { $0 >= 0 && $0 < t.vocabularySize })
                _ = t.decode(ids)
            }
            let g = GLMEncodeTests.gpt2
            #expect(g.decode(g.text.encode(text)) == text)
        }
    }
}

/// The GLM layer against the GLM tokenizer classes themselves (SwissArmyTransformer's packaged copy
/// of `data_utils/tokenization.py`; see Tools/goldens/make_glm_goldens.py).
@Suite struct GLMLayerGoldenTests {
    struct Layout: Decodable { let num_tokens: Int; let commands: [[Cmd]] }
    enum Cmd: Decodable {
        case s(String), i(Int), b(Bool)
        init(from d: Decoder) throws {
            let c = try d.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .b(b) } else if let i = try? c.decode(Int.self) { self = .i(i) } else { self = .s(try c.decode(String.self)) }
        }
        var string: String? { if case .s(let v) = self { return v }; return nil }
        var int: Int? { if case .i(let v) = self { return v }; return nil }
        var bool: Bool? { if case .b(let v) = self { return v }; return nil }
    }

    static func tokenizer(_ name: String) throws -> GLMTokenizer {
        switch name {
        case "gpt2": return try GLMTokenizer(folder: Paths.gpt2)
        case "bert": return try GLMTokenizer(folder: Paths.bert)
        default:
            let sp = try SentencePieceTokenizer(modelFile: Paths.golden("sp-bpe.model"))
            return try GLMTokenizer(family: name == "chinese-fixed" ? .chineseSPFixed : .chineseSP, text: sp)
        }
    }

    @Test(arguments: ["bert", "gpt2", "chinese-fixed", "chinese-10b"])
    func layoutAndIdsMatchOfficialClasses(_ name: String) throws {
        let t = try GLMLayerGoldenTests.tokenizer(name)
        let layouts = try JSONDecoder().decode([String: Layout].self, from: Data(contentsOf: Paths.golden("glm-layouts.json")))
        let want = try #require(layouts[name])
        #expect(t.numTokens == want.num_tokens)
        #expect(t.commandList.map(\.name) == want.commands.map { $0[0].string! })
        #expect(t.commandList.map(\.token) == want.commands.map { $0[1].string! })
        #expect(t.commandList.map(\.id) == want.commands.map { $0[2].int! })
        #expect(t.commandList.map(\.lstrip) == want.commands.map { $0[3].bool! })
        let lines = try loadGoldens("glm-\(name).jsonl")
        #expect(lines.count > 400)
        var bad = 0
        for g in lines where t.encode(g.text) != g.ids {
            bad += 1
            if bad <= 5 { Issue.record("\(name): \(g.text.debugDescription)\n ours: \(t.encode(g.text))\n gold: \(g.ids)") }
        }
        #expect(bad == 0)
    }
}
