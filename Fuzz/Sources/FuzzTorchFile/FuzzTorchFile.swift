import Foundation
import FuzzSupport
import GLMNN
import GLMTensor

/// Whole `torch.save` files as the checkpoint loader sniffs them: the zip container (central
/// directory, Zip64, local headers), the legacy format and safetensors.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let url = Fuzz.file("input.bin", UnsafeRawBufferPointer(start: data, count: size))
    if let tensors = try? CheckpointLoader.load(url) {
        for t in tensors.values where t.byteCount <= 1 << 24 { _ = t.floats() }
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    Fuzz.initialize(seeds: seeds)
    return 0
}

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    let tensors = ["word_embeddings.weight": TensorData(dtype: .f32, shape: [4, 2], floats: (0..<8).map(Float.init)),
                   "transformer.final_layernorm.bias": TensorData(dtype: .bf16, shape: [2], floats: [1, 2])]
    var out: [(String, [UInt8])] = []
    for (name, layout, zip64) in [("state-dict", PyTorchCheckpoint.Layout.stateDict, false),
                                  ("official", .official(iteration: 7), false), ("zip64", .stateDict, true)] {
        let url = URL(fileURLWithPath: Fuzz.scratch + "/seed-\(name).pt")
        try PyTorchCheckpoint.write(tensors, to: url, layout: layout, zip64: zip64)
        out.append((name, [UInt8](try Data(contentsOf: url))))
    }
    // A legacy file: magic, protocol, sys_info, {"w": tensor}, storage keys, storage bytes.
    var p = PickleWriter()
    p.proto(); p.long([0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]); p.op(.stop)
    p.proto(); p.int(1001); p.op(.stop)
    p.proto(); p.op(.emptyDict); p.op(.stop)
    p.proto(); p.op(.emptyDict); p.string("w")
    p.global("torch._utils", "_rebuild_tensor_v2"); p.op(.mark)
    p.op(.mark); p.string("storage"); p.global("torch", "FloatStorage"); p.string("0"); p.string("cpu"); p.int(4); p.op(.none); p.op(.tuple)
    p.op(.binPersId); p.int(0); p.tuple([2, 2]); p.tuple([1, 2]); p.op(.newFalse); p.op(.none); p.op(.tuple); p.op(.reduce)
    p.op(.setItem); p.op(.stop)
    p.proto(); p.op(.emptyList); p.op(.mark); p.string("0"); p.op(.appends); p.op(.stop)
    out.append(("legacy", p.bytes + [4, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0x40, count: 16)))
    return out
}
