import Foundation
import FuzzSupport
import GLMTokenizers

/// GPT-2 byte-level BPE files: `vocab.json` and `merges.txt`, joined in one input by the fuzz separator.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let parts = Fuzz.split(UnsafeRawBufferPointer(start: data, count: size), count: 2)
    let folder = Fuzz.folder("bpe")
    Fuzz.file("bpe/vocab.json", parts[0])
    Fuzz.file("bpe/merges.txt", parts[1])
    if let t = try? GLMTokenizer(folder: folder) {
        _ = t.decode(t.encode(sampleText, addSpecial: true))
    } else if let b = try? ByteLevelBPETokenizer(vocabFile: folder.appendingPathComponent("vocab.json"),
                                                 mergesFile: folder.appendingPathComponent("merges.txt")) {
        _ = b.decode(b.encode(sampleText))
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    Fuzz.initialize(seeds: seeds)
    return 0
}

let sampleText = "Hello world's 12 cats — ünïcödé 日本 \u{1F600} [MASK] <|endoftext|>  spaces\n"

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    // The 256 byte symbols, a few merges, and the specials GLM needs.
    let bytes = (0..<256).map { b -> String in
        let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
        return String(UnicodeScalar(UInt32(printable ? b : 256 + b))!)
    }
    var vocab = Dictionary(uniqueKeysWithValues: bytes.enumerated().map { ($1, $0) })
    let merges = [("Ġ", "w"), ("Ġw", "o"), ("h", "e"), ("he", "l"), ("hel", "l"), ("hell", "o"), ("Ġ", "c")]
    for (a, b) in merges { vocab[a + b] = vocab.count }
    for s in ["<|endoftext|>", "<s>", "</s>", "<mask>", "<unk>"] { vocab[s] = vocab.count }
    let json = try JSONSerialization.data(withJSONObject: vocab, options: [.sortedKeys])
    let mergeText = "#version: 0.2\n" + merges.map { "\($0.0) \($0.1)" }.joined(separator: "\n") + "\n"
    return [
        ("gpt2-like", Fuzz.join([[UInt8](json), Fuzz.utf8(mergeText)])),
        ("crlf-merges", Fuzz.join([[UInt8](json), Fuzz.utf8(mergeText.replacingOccurrences(of: "\n", with: "\r\n"))])),
        ("huge-id", Fuzz.join([Fuzz.utf8(#"{"a": 4611686018427387904, "<|endoftext|>": 0}"#), Fuzz.utf8("a a\n")])),
        ("bad-merge", Fuzz.join([[UInt8](json), Fuzz.utf8("#version: 0.2\nnot-a-pair\n")])),
    ]
}
