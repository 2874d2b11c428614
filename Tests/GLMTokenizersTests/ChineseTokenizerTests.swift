import Foundation
import Testing
import GLMTokenizers

/// The bundled tokenizers of GLM-Large-Chinese and GLM-10B-Chinese (the real `cog-pretrain.model`,
/// docs/official-glm.md §3.4) against the Python `sentencepiece` package and against the official
/// `data_utils/tokenization.py:ChineseSPTokenizer` (Tools/goldens/make_chinese_goldens.py).
@Suite struct ChineseTokenizerTests {
    static let large = Paths.repo.appendingPathComponent("Resources/tokenizers/glm-large-chinese")
    static let tenB = Paths.repo.appendingPathComponent("Resources/tokenizers/glm-10b-chinese")

    @Test func bundledFoldersPickTheirFamilies() throws {
        let fixed = try GLMTokenizer(folder: Self.large)
        #expect(fixed.family == .chineseSPFixed)
        #expect(fixed.text.vocabularySize == 50000)
        #expect(fixed.identity == "chineseSPFixed:6ea6f4164152bc58d23e24e48f7bf4187aad72a32e97ec4b3acc832fe183cbc2")
        #expect(fixed.commands == CommandTokens(pad: 50000, eos: 50000, cls: 50002, sep: 50001, mask: 50003, unk: 50004,
                                                sop: 50006, eop: 50007, gMask: 50009, sMask: 50008))
        #expect(fixed.paddedVocabSize == 50048)
        let quirk = try GLMTokenizer(folder: Self.tenB)
        #expect(quirk.family == .chineseSP)
        #expect(quirk.identity == "chineseSP:6ea6f4164152bc58d23e24e48f7bf4187aad72a32e97ec4b3acc832fe183cbc2")
        #expect(quirk.commands.gMask == 50007)
        #expect(quirk.commands.eop == 50007)
        #expect(quirk.paddedVocabSize == 50048)
        // The model's own special pieces (docs/official-glm.md §3.4).
        #expect((0..<4).map { fixed.text.token(for: $0) } == ["<unk>", "<s>", "</s>", "<n>"])
    }

    @Test func textIdsAndDecodeMatchSentencepiece() throws {
        let t = try GLMTokenizer(folder: Self.large)
        let lines = try loadGoldens("cog-pretrain.jsonl")
        #expect(lines.count > 700)
        #expect(lines.contains { $0.text.contains("床前明月光") })
        let r = checkGoldens(t.text, lines)
        #expect(r.idMismatches == 0)
        #expect(r.decodeMismatches == 0)
    }

    @Test(arguments: [("fixed", "glm-large-chinese"), ("10b", "glm-10b-chinese")])
    func commandLayerMatchesOfficialChineseSPTokenizer(_ layout: String, _ folder: String) throws {
        let t = try GLMTokenizer(folder: Paths.repo.appendingPathComponent("Resources/tokenizers/\(folder)"))
        let layouts = try JSONDecoder().decode([String: GLMLayerGoldenTests.Layout].self,
                                               from: Data(contentsOf: Paths.golden("glm-cog-layouts.json")))
        let want = try #require(layouts[layout])
        #expect(t.numTokens == want.num_tokens)
        #expect(t.commandList.map(\.name) == want.commands.map { $0[0].string! })
        #expect(t.commandList.map(\.token) == want.commands.map { $0[1].string! })
        #expect(t.commandList.map(\.id) == want.commands.map { $0[2].int! })
        #expect(t.commandList.map(\.lstrip) == want.commands.map { $0[3].bool! })
        // IdToToken of every command id, including the 10B quirk where 50007 prints as [gMASK].
        let names = try JSONDecoder().decode([String: IdNames].self, from: Data(contentsOf: Paths.golden("glm-cog-layouts.json")))
        for (id, token) in try #require(names[layout]).id_to_token {
            #expect(t.tokenString(Int(id)!) == token, "id \(id)")
        }
        let lines = try loadGoldens("glm-cog-\(layout).jsonl")
        #expect(lines.count > 200)
        var bad = 0
        for g in lines where t.encode(g.text) != g.ids {
            bad += 1
            if bad <= 5 { Issue.record("\(layout): \(g.text.debugDescription)\n ours: \(t.encode(g.text))\n gold: \(g.ids)") }
        }
        #expect(bad == 0)
    }

    struct IdNames: Decodable { let id_to_token: [String: String] }
}
