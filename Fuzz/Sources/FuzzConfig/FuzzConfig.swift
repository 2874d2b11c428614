import Foundation
import FuzzSupport
import GLM

/// `config.json`: field types, limits and the memory estimate built on them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let url = Fuzz.file("config.json", UnsafeRawBufferPointer(start: data, count: size))
    if let c = try? GLMConfig.load(url) {
        _ = c.parameterCount
        for w in [GLMConfig.Workload.inference, .training, .decoding] {
            _ = c.estimatedBytes(batch: 4, sequence: c.maxSequenceLength, workload: w, bf16: true)
        }
        _ = try? c.checkMemory(batch: 1, sequence: 16, workload: .inference, for: "fuzz")
        _ = try? c.jsonData()
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    Fuzz.initialize(seeds: seeds)
    return 0
}

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    let base = String(decoding: try GLMConfig.presets["glm-tiny"]!.jsonData(), as: UTF8.self)
    func edited(_ field: String, _ value: String) -> [UInt8] {
        Fuzz.utf8(base.replacingOccurrences(of: "\"\(field)\" : ", with: "\"\(field)\" : \(value), \"x\" : "))
    }
    return [
        ("glm-tiny", Fuzz.utf8(base)),
        ("glm-10b", [UInt8](try GLMConfig.presets["glm-10b"]!.jsonData())),
        ("layers-2.5", edited("num_layers", "2.5")),
        ("layers-1e9", edited("num_layers", "1000000000")),
        ("vocab-1e30", edited("vocab_size", "1e30")),
        ("hidden-string", edited("hidden_size", "\"64\"")),
        ("positions-2-62", edited("max_sequence_length", "4611686018427387904")),
        ("minimal", Fuzz.utf8(#"{"num_layers": 1, "hidden_size": 8, "num_attention_heads": 2, "vocab_size": 16, "max_sequence_length": 4}"#)),
    ]
}
