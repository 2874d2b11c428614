import Foundation
import FuzzSupport
import GLM

/// The JSON case files of `glm logits`: parsed, then — when small — run through a tiny model
/// (forward, loss and gradients), so ids, positions, separators and masks that pass the parser
/// also pass the model's checks or fail with an error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let url = Fuzz.file("case.json", UnsafeRawBufferPointer(start: data, count: size))
    guard let c = try? ParityCase(contentsOf: url), c.batch * c.length <= 256 else { return 0 }
    if (try? tinyModel.config.checkMemory(batch: c.batch, sequence: c.length, workload: .training, for: "fuzz")) != nil {
        _ = try? tinyModel.parity(c, grads: c.targets != nil)
    }
    return 0
}

/// L=1, h=16, 2 heads, V=64, P=16, randomly initialised.
nonisolated(unsafe) let tinyModel: GLMModel = {
    do { return try GLMModel(config: GLMConfig(numLayers: 1, hiddenSize: 16, numAttentionHeads: 2, vocabSize: 64, maxSequenceLength: 16)) } catch {
        fatalError("the fuzz target's tiny model: \(error)")  // a fixed, valid config: an invariant, not input
    }
}()

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    Fuzz.initialize(seeds: seeds)
    _ = tinyModel
    return 0
}

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    [
        ("separators", Fuzz.utf8(#"{"input_ids": [[2, 5, 6, 4, 7], [2, 9, 4, 8, 1]], "position_ids": [[[0, 1, 2, 3, 3], [0, 0, 0, 0, 1]], [[0, 1, 2, 2, 2], [0, 0, 0, 1, 2]]], "attention_mask": [4, 3], "targets": [[5, 6, 4, 7, 1], [9, 4, 8, 1, 0]], "loss_mask": [[0, 0, 0, 1, 1], [0, 0, 1, 1, 0]]}"#)),
        ("scalar-sep", Fuzz.utf8(#"{"input_ids": [[2, 5, 6]], "position_ids": [[[0, 1, 2], [0, 0, 0]]], "attention_mask": 2}"#)),
        ("explicit-mask", Fuzz.utf8(#"{"input_ids": [[2, 5]], "position_ids": [[[0, 1], [0, 0]]], "attention_mask": [[[[1, 0], [1, 1]]]]}"#)),
        ("position-1e30", Fuzz.utf8(#"{"input_ids": [[2, 5, 6]], "position_ids": [[[0, 1e30, 2], [0, 0, 0]]], "attention_mask": [3]}"#)),
        ("position-2.7", Fuzz.utf8(#"{"input_ids": [[2, 5, 6]], "position_ids": [[[0, 2.7, 2], [0, 0, 0]]], "attention_mask": [3]}"#)),
        ("id-past-vocab", Fuzz.utf8(#"{"input_ids": [[2, 500, 6]], "position_ids": [[[0, 1, 2], [0, 0, 0]]], "attention_mask": [9]}"#)),
    ]
}
