import Foundation
import FuzzSupport
import GLMTokenizers

/// Hugging Face `tokenizer.json`: WordPiece, BPE and Unigram models, normalizers,
/// pre-tokenizers, decoders and added tokens.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let folder = Fuzz.folder("tj")
    let url = Fuzz.file("tj/tokenizer.json", UnsafeRawBufferPointer(start: data, count: size))
    if let t = try? HFTokenizerJSON.load(url) {
        let ids = t.encode(sampleText)
        _ = t.decode(ids + [-1, t.vocabularySize, Int.max])
        if let g = try? GLMTokenizer(folder: folder) { _ = g.decode(g.encode(sampleText, addSpecial: true)) }
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    Fuzz.initialize(seeds: seeds)
    return 0
}

let sampleText = "Hello [MASK] wörld, 你好 12! <|endoftext|> ▁x"

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    var out: [(String, [UInt8])] = [
        ("wordpiece", Fuzz.utf8(###"{"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "hello": 5, "w": 6, "##ö": 7, "##rld": 8, ",": 9}}, "normalizer": {"type": "BertNormalizer", "lowercase": true, "strip_accents": null, "clean_text": true, "handle_chinese_chars": true}, "pre_tokenizer": {"type": "BertPreTokenizer"}, "added_tokens": [{"id": 4, "content": "[MASK]", "lstrip": true, "rstrip": false, "single_word": false}]}"###)),
        ("bpe", Fuzz.utf8(#"{"model": {"type": "BPE", "vocab": {"H": 0, "e": 1, "l": 2, "o": 3, "He": 4, "ll": 5, "<|endoftext|>": 6, "Ġ": 7}, "merges": ["H e", ["l", "l"]]}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}, "added_tokens": [{"id": 6, "content": "<|endoftext|>"}]}"#)),
        ("unigram", Fuzz.utf8(#"{"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0], ["▁", -1], ["▁x", -2], ["H", -3], ["e", -3], ["你", -2], ["好", -2]]}, "normalizer": {"type": "Sequence", "normalizers": [{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}, {"type": "NFKC"}]}, "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}, "decoder": {"type": "Metaspace", "replacement": "▁"}}"#)),
        ("wordpiece-id-2-62", Fuzz.utf8(#"{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 4611686018427387904}}, "normalizer": null, "pre_tokenizer": {"type": "BertPreTokenizer"}}"#)),
        ("added-id-2-62", Fuzz.utf8(#"{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1}}, "normalizer": null, "pre_tokenizer": {"type": "BertPreTokenizer"}, "added_tokens": [{"id": 4611686018427387904, "content": "[X]"}]}"#)),
    ]
    // The repository's own tokenizer.json goldens, when present.
    let goldens = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Tests/GLMTokenizersTests/Goldens")
    for name in ["hf-bytelevel-bpe", "hf-wordpiece-cased", "hf-wordpiece-uncased"] {
        let u = goldens.appendingPathComponent(name).appendingPathComponent("tokenizer.json")
        if let d = try? Data(contentsOf: u), d.count < 200_000 { out.append(("golden-\(name)", [UInt8](d))) }
    }
    return out
}
