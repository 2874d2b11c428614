import Foundation
import FuzzSupport
import GLMData
import GLMTokenizers

/// A shard folder: `manifest.json`, `shard-00000.bin` and `shard-00000.idx`, joined in one input by
/// the fuzz separator. A folder that opens is packed and collated, so every offset and token the
/// checks let through is also used.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let parts = Fuzz.split(UnsafeRawBufferPointer(start: data, count: size), count: 3)
    let folder = Fuzz.folder("shards")
    Fuzz.file("shards/manifest.json", parts[0])
    Fuzz.file("shards/shard-00000.bin", parts[1])
    Fuzz.file("shards/shard-00000.idx", parts[2])
    guard let ds = try? ShardDataset(folder: folder) else { return 0 }
    for i in 0..<min(ds.documentCount, 4) { _ = ds.document(i) }
    for seq in [8, 64] {
        for i in 0..<3 { _ = ds.sample(index: i, seed: 7, seqLength: seq) }
        if let config = CollatorConfig.named("glm-10b"), let c = try? BlockCollator(config: config, dataset: ds, seqLength: seq) {
            _ = BatchLoader.makeBatch(0, dataset: ds, collator: c, batchSize: 2, seed: 3)
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    Fuzz.initialize(seeds: seeds)
    return 0
}

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    // A real folder from `glm prepare`'s library, over a small word vocabulary.
    let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "!", "?", ";"] + (0..<60).map { "w\($0)" }
    let text = try WordPieceTokenizer(tokens: words)
    let v = words.count
    let commands = CommandTokens(pad: 0, eos: 0, cls: 2, sep: 3, mask: 4, unk: 1, sop: v, eop: v + 1, gMask: v + 2, sMask: v + 3)
    let tokenizer = DataTokenizer(text: text, commands: commands, numTokens: v + 4, identity: "fuzz-words")
    let input = Fuzz.folder("seed-input")
    for i in 0..<6 {
        let doc = (0..<(3 + 7 * i)).map { "w\(($0 * 7 + i) % 60)" + ($0 % 5 == 4 ? " ." : "") }.joined(separator: " ")
        try doc.write(to: input.appendingPathComponent("d\(i).txt"), atomically: false, encoding: .utf8)
    }
    let out = URL(fileURLWithPath: Fuzz.scratch + "/seed-shards")
    try CorpusPreparer.prepare(inputs: [input], tokenizer: tokenizer, output: out, options: PrepareOptions(workers: 1))
    let manifest = [UInt8](try Data(contentsOf: out.appendingPathComponent("manifest.json")))
    let bin = [UInt8](try Data(contentsOf: out.appendingPathComponent("shard-00000.bin")))
    let idx = [UInt8](try Data(contentsOf: out.appendingPathComponent("shard-00000.idx")))
    func offset(_ idx: [UInt8], _ i: Int, _ v: UInt64) -> [UInt8] {
        var b = idx
        for k in 0..<8 { b[i * 8 + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
        return b
    }
    let text2 = String(decoding: manifest, as: UTF8.self)
    func edited(_ from: String, _ to: String) -> [UInt8] { Fuzz.utf8(text2.replacingOccurrences(of: from, with: to)) }
    return [
        ("prepared", Fuzz.join([manifest, bin, idx])),
        ("offset-2-40", Fuzz.join([manifest, bin, offset(idx, 2, 1 << 40)])),
        ("offset-past-end", Fuzz.join([manifest, bin, offset(idx, 3, UInt64(bin.count / 2 + 1))])),
        ("offsets-decrease", Fuzz.join([manifest, bin, offset(idx, 2, 1)])),
        ("token-count-2-62", Fuzz.join([edited("\"tokenCount\" : ", "\"tokenCount\" : 46116860184273879"), bin, idx])),
        ("num-tokens-2-62", Fuzz.join([edited("\"numTokens\" : ", "\"numTokens\" : 46116860184273879"), bin, idx])),
        ("ids-past-vocab", Fuzz.join([manifest, [UInt8](repeating: 0xFF, count: bin.count), idx])),
    ]
}
