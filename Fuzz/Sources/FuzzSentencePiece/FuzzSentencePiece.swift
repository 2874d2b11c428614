import Foundation
import FuzzSupport
import GLMSystem
import GLMTokenizers

/// SentencePiece `.model` protobufs (pieces, trainer and normalizer specs, the precompiled charsmap).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if let sp = try? SentencePieceTokenizer(modelData: [UInt8](UnsafeRawBufferPointer(start: data, count: size))) {
        _ = sp.decode(sp.encode(sampleText))
        _ = sp.decode([-1, sp.vocabularySize, Int.max])
        if let t = try? GLMTokenizer(family: .chineseSPFixed, text: sp) { _ = t.decode(t.encode(sampleText, addSpecial: true)) }
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    Fuzz.initialize(seeds: seeds)
    return 0
}

let sampleText = "你好，世界! Hello ▁world 12 [MASK] ünï\u{3000}  "

func model(type: Int, pieces: [(String, Float, Int)], byteFallback: Bool = false) -> [UInt8] {
    var m = ProtoWriter()
    for (s, score, kind) in pieces {
        var p = ProtoWriter()
        p.string(1, s); p.float(2, score); p.int(3, kind)
        m.message(1, p.bytes)
    }
    var trainer = ProtoWriter()
    trainer.int(3, type)
    if byteFallback { trainer.int(35, 1) }
    trainer.int(40, 0)
    m.message(2, trainer.bytes)
    var normalizer = ProtoWriter()
    normalizer.int(3, 1); normalizer.int(4, 1); normalizer.int(5, 1)
    m.message(3, normalizer.bytes)
    return m.bytes
}

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    let pieces: [(String, Float, Int)] = [("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3), ("▁", -1, 1), ("你", -2, 1), ("好", -2, 1),
                                          ("你好", -1.5, 1), ("▁Hello", -3, 1), ("▁world", -3, 1), ("l", -5, 1), ("o", -5, 1), ("[MASK]", 0, 4)]
    let withBytes = pieces + (0..<256).map { (String(format: "<0x%02X>", $0), Float(0), 6) }
    var out: [(String, [UInt8])] = [
        ("unigram", model(type: 1, pieces: pieces)),
        ("bpe", model(type: 2, pieces: pieces)),
        ("byte-fallback", model(type: 1, pieces: withBytes, byteFallback: true)),
        ("bad-type", model(type: 9, pieces: pieces)),
    ]
    // Real models in the repository, when there are any (e.g. the bundled Chinese tokenizer).
    let resources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Resources/tokenizers")
    if let e = FileManager.default.enumerator(atPath: resources.path) {
        for case let path as String in e where path.hasSuffix(".model") {
            out.append(("resource-" + path.replacingOccurrences(of: "/", with: "-"), [UInt8](try Data(contentsOf: resources.appendingPathComponent(path)))))
        }
    }
    return out
}
