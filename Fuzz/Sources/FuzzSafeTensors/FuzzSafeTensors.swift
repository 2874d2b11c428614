import Foundation
import FuzzSupport
import GLMNN
import GLMTensor

/// safetensors reader: header length, JSON header (dtypes, shapes, offsets, duplicate keys,
/// metadata) and the data section. Every readable tensor is materialised.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let url = Fuzz.file("input.safetensors", UnsafeRawBufferPointer(start: data, count: size))
    if let (tensors, _) = try? SafeTensors.readWithMetadata(url) {
        for t in tensors.values where t.byteCount <= 1 << 24 { _ = t.floats() }
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    Fuzz.initialize(seeds: seeds)
    return 0
}

func file(header: String, data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    let n = UInt64(header.utf8.count)
    for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
    return out + Array(header.utf8) + data
}

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    let url = URL(fileURLWithPath: Fuzz.scratch + "/seed.safetensors")
    try SafeTensors.write(["a": TensorData(dtype: .f32, shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]),
                           "b": TensorData(dtype: .bf16, shape: [4], floats: [1, -1, 0.5, 2]),
                           "c": TensorData(dtype: .f16, shape: [], floats: [3]),
                           "d": TensorData(dtype: .i32, shape: [0, 5], floats: [])],
                          to: url, metadata: ["format": "pt"])
    let f32 = [UInt8](repeating: 0x3F, count: 16)
    return [
        ("written", [UInt8](try Data(contentsOf: url))),
        ("duplicate-keys", file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f32)),
        ("overflow-shape", file(header: #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#, data: f32)),
        ("offsets-past-end", file(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,1099511627776]}}"#, data: f32)),
        ("overlap", file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: f32)),
        ("fraction-shape", file(header: #"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]},"__metadata__":{"k":1}}"#, data: f32)),
        ("huge-header-length", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x7B, 0x7D]),
    ]
}
