import Foundation
import FuzzSupport
import GLMTokenizers

/// BERT `vocab.txt` through the GLM tokenizer (line splitting, command-token lookup, WordPiece).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let folder = Fuzz.folder("vocab")
    Fuzz.file("vocab/vocab.txt", UnsafeRawBufferPointer(start: data, count: size))
    if let t = try? GLMTokenizer(folder: folder) {
        let ids = t.encode(sampleText, addSpecial: true)
        _ = t.decode(ids)
        _ = t.decode([-1, 0, t.numTokens, t.numTokens + 5, Int.max])
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    Fuzz.initialize(seeds: seeds)
    return 0
}

let sampleText = "The quick brown fox [MASK] über 12 lazy dogs, 日本語 naïve [sMASK] <|endoftext|> ##x [gMASK]"

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    let base = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "brown", "##s", "fox", "dog", "##gs", "over", ",", ".", "日", "ü", "##ber"]
    return [
        ("lf", Fuzz.utf8(base.joined(separator: "\n") + "\n")),
        ("crlf", Fuzz.utf8(base.joined(separator: "\r\n") + "\r\n")),
        ("lone-cr", Fuzz.utf8(base.joined(separator: "\r"))),
        ("spaces-and-empty", Fuzz.utf8(base.map { " \($0)\t" }.joined(separator: "\n") + "\n\n\n")),
        ("no-unk", Fuzz.utf8(base.filter { $0 != "[UNK]" }.joined(separator: "\n"))),
        ("invalid-utf8", Fuzz.utf8(base.joined(separator: "\n")) + [0xFF, 0xFE, 0x0A]),
    ]
}
