import Foundation
import Testing
import GLMTokenizers

/// Tokenizer files as Windows editors, broken downloads and attackers leave them (issue 12,
/// classes 4 and 10). Every crafted file is made here from the bundled vocabularies.
@Suite struct HostileTokenizerTests {
    static let sample = "The quick brown fox, naïvely [MASK] over 12 lazy dogs. Ünïcödé!"

    /// A CRLF `vocab.txt` gives the ids of the LF one: the official `load_vocab` reads in Python's
    /// text mode (universal newlines), and so does this loader. It used to be one line ("no entry [UNK]").
    @Test func crlfVocabularyGivesTheSameIds() throws {
        let lf = try String(contentsOf: Paths.bert.appendingPathComponent("vocab.txt"), encoding: .utf8)
        let crlf = try tempFolder(["vocab.txt": lf.replacingOccurrences(of: "\n", with: "\r\n")])
        defer { try? FileManager.default.removeItem(at: crlf) }
        let a = try GLMTokenizer(folder: Paths.bert), b = try GLMTokenizer(folder: crlf)
        #expect(b.numTokens == a.numTokens)
        #expect(b.commands == a.commands)
        #expect(b.encode(Self.sample, addSpecial: true) == a.encode(Self.sample, addSpecial: true))
    }

    /// A lone CR ends a line too, as in Python (`open(…).readline()` gives "a", "b", "c" for "a\rb\r\nc\n").
    @Test func loneCarriageReturnEndsALine() throws {
        let dir = try tempFolder(["vocab.txt": "[PAD]\r[UNK]\r\n[CLS]\n[SEP]\r[MASK]\rhello\r\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try WordPieceTokenizer(vocabFile: dir.appendingPathComponent("vocab.txt"))
        #expect(w.vocabularySize == 6)
        #expect(w.token(for: 5) == "hello")
        #expect(w.encode("hello") == [5])
    }

    /// Lines are stripped at both ends, as the official `token.strip()` does (Python semantics).
    @Test func vocabularyLinesAreStrippedLikePython() throws {
        let dir = try tempFolder(["vocab.txt": "[PAD]\n [UNK]\t\n[CLS]\n[SEP]\n\u{1C}[MASK]\u{1F}\n  hello  \n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try GLMTokenizer(folder: dir)
        #expect(t.commands.unk == 1 && t.commands.mask == 4)
        #expect(t.text.token(for: 5) == "hello")
    }

    /// CRLF `merges.txt` (and `vocab.bpe`) give the ids of the LF files.
    @Test func crlfMergesGiveTheSameIds() throws {
        let bpe = try String(contentsOf: Paths.gpt2.appendingPathComponent("vocab.bpe"), encoding: .utf8)
        let enc = try String(contentsOf: Paths.gpt2.appendingPathComponent("encoder.json"), encoding: .utf8)
        let dir = try tempFolder(["vocab.bpe": bpe.replacingOccurrences(of: "\n", with: "\r\n"), "encoder.json": enc])
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try GLMTokenizer(folder: Paths.gpt2), b = try GLMTokenizer(folder: dir)
        #expect(b.encode(Self.sample) == a.encode(Self.sample))
    }

    /// A 229-byte `tokenizer.json` with one WordPiece id of 2^62 used to segfault allocating the id table.
    @Test func hugeIdsInTokenizerJSONAreErrors() throws {
        let wordPiece = #"{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 4611686018427387904}}, "normalizer": null, "pre_tokenizer": {"type": "BertPreTokenizer"}}"#
        let dir = try tempFolder(["tokenizer.json": wordPiece])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: TokenizerError.self) { try HFTokenizerJSON.load(dir.appendingPathComponent("tokenizer.json")) }
        do { _ = try HFTokenizerJSON.load(dir.appendingPathComponent("tokenizer.json")) } catch {
            #expect("\(error)".contains("model.vocab"))
        }
        let dense = #"{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 2}}, "normalizer": null, "pre_tokenizer": {"type": "BertPreTokenizer"}}"#
        try Data(dense.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        #expect(throws: TokenizerError.self) { try HFTokenizerJSON.load(dir.appendingPathComponent("tokenizer.json")) }
        let added = #"{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1}}, "normalizer": null, "pre_tokenizer": {"type": "BertPreTokenizer"}, "added_tokens": [{"id": 4611686018427387904, "content": "[X]"}]}"#
        try Data(added.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        do {
            _ = try HFTokenizerJSON.load(dir.appendingPathComponent("tokenizer.json"))
            Issue.record("an added token id of 2^62 was accepted")
        } catch {
            #expect("\(error)".contains("added_tokens[0]"))
        }
        let fraction = #"{"model": {"type": "BPE", "vocab": {"a": 0.5}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}"#
        try Data(fraction.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        #expect(throws: TokenizerError.self) { try HFTokenizerJSON.load(dir.appendingPathComponent("tokenizer.json")) }
    }

    /// A folder where a file is expected is named as such (it used to be "NSCocoaErrorDomain error 256").
    @Test func folderInPlaceOfAFile() throws {
        let dir = try tempFolder([:])
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("vocab.txt"), withIntermediateDirectories: true)
        do {
            _ = try GLMTokenizer(folder: dir)
            Issue.record("a folder named vocab.txt was accepted")
        } catch {
            #expect("\(error)".contains("is a folder, expected a file"))
            #expect(!"\(error)".contains("NSCocoaErrorDomain"))
        }
    }
}
