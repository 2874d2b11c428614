import Foundation
import FuzzSupport
import GLMNN
import GLMTensor

/// The restricted unpickler on its own: the input is the pickled object of a legacy `torch.save`
/// file whose one storage, key "0", holds 16 floats (so tensor references resolve). Nesting,
/// memo, marks, globals (allowed and forbidden), persistent ids and tensor views are all reachable.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var bytes = prefix
    bytes += UnsafeRawBufferPointer(start: data, count: size)
    bytes += suffix
    let url = Fuzz.file("input.pt", bytes)
    if let tensors = try? PyTorchCheckpoint.read(url) {
        for t in tensors.values where t.byteCount <= 1 << 24 { _ = t.floats() }
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    Fuzz.initialize(seeds: seeds)
    return 0
}

/// Magic number, protocol version and sys_info pickles.
let prefix: [UInt8] = {
    var p = PickleWriter()
    p.proto(); p.long([0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]); p.op(.stop)
    p.proto(); p.int(1001); p.op(.stop)
    p.proto(); p.op(.emptyDict); p.op(.stop)
    return p.bytes
}()

/// The storage key list ["0"] and the storage: 16 floats.
let suffix: [UInt8] = {
    var p = PickleWriter()
    p.proto(); p.op(.emptyList); p.op(.mark); p.string("0"); p.op(.appends); p.op(.stop)
    return p.bytes + [16, 0, 0, 0, 0, 0, 0, 0] + (0..<16).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian) { Array($0) } }
}()

func tensor(_ p: inout PickleWriter, type: String = "FloatStorage", numel: Int = 16, offset: Int = 0, size: [Int], stride: [Int]) {
    p.global("torch._utils", "_rebuild_tensor_v2"); p.op(.mark)
    p.op(.mark); p.string("storage"); p.global("torch", type); p.string("0"); p.string("cpu"); p.int(numel); p.op(.none); p.op(.tuple)
    p.op(.binPersId); p.int(offset); p.tuple(size); p.tuple(stride); p.op(.newFalse)
    p.global("collections", "OrderedDict"); p.op(.emptyTuple); p.op(.reduce)
    p.op(.tuple); p.op(.reduce)
}

func dict(_ body: (inout PickleWriter) -> Void) -> [UInt8] {
    var p = PickleWriter()
    p.proto(); p.op(.emptyDict); p.op(.mark); body(&p); p.op(.setItems); p.op(.stop)
    return p.bytes
}

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    let depth = 5000
    return [
        ("tensors", dict { p in
            p.string("a"); tensor(&p, size: [4, 4], stride: [4, 1])
            p.string("t"); tensor(&p, size: [4, 4], stride: [1, 4])
            p.string("s"); tensor(&p, offset: 3, size: [2, 3], stride: [5, 1])
            p.string("h"); tensor(&p, type: "HalfStorage", numel: 32, size: [8], stride: [2])
            p.string("l"); tensor(&p, type: "LongStorage", numel: 8, size: [8], stride: [1])
            p.string("module"); p.op(.emptyDict); p.string("x"); tensor(&p, size: [2], stride: [1]); p.op(.setItem)
        }),
        ("memo-and-ordered-dict", { () -> [UInt8] in
            var p = PickleWriter()
            p.proto(); p.global("collections", "OrderedDict"); p.op(.emptyTuple); p.op(.reduce); p.op(.binPut); p.op(0)
            p.op(.mark); p.string("w"); tensor(&p, size: [3], stride: [1]); p.op(.binPut); p.op(1)
            p.string("v"); p.op(.binGet); p.op(1); p.op(.setItems); p.op(.stop)
            return p.bytes
        }()),
        ("deep-lists", dict { p in
            p.string("a"); for _ in 0..<depth { p.op(.emptyList) }; for _ in 0..<(depth - 1) { p.op(.append) }
        }),
        ("deep-tuples", dict { p in
            p.string("a"); for _ in 0..<depth { p.op(.mark) }; for _ in 0..<depth { p.op(.tuple) }
        }),
        ("deep-persistent-id", dict { p in
            p.string("a"); for _ in 0..<depth { p.op(.mark) }; p.string("storage"); for _ in 0..<depth { p.op(.tuple) }; p.op(.binPersId)
        }),
        ("nested-rebuild-from-type", dict { p in
            p.string("w")
            p.global("torch._tensor", "_rebuild_from_type_v2")
            for _ in 0..<50 { p.op(.mark); p.global("torch._tensor", "_rebuild_from_type_v2"); p.op(.none) }
            p.op(.mark); p.global("torch._utils", "_rebuild_tensor_v2"); p.op(.none)
            p.op(.mark)
            p.op(.mark); p.string("storage"); p.global("torch", "FloatStorage"); p.string("0"); p.string("cpu"); p.int(16); p.op(.none); p.op(.tuple)
            p.op(.binPersId); p.int(0); p.tuple([4]); p.tuple([1]); p.op(.newFalse); p.op(.none)
            p.op(.tuple); p.op(.none); p.op(.tuple)
            for _ in 0..<50 { p.op(.none); p.op(.tuple) }
            p.op(.reduce)
        }),
        ("size-2-62-stride-0", dict { p in p.string("w"); tensor(&p, numel: 1, size: [1 << 62], stride: [0]) }),
        ("size-2-40", dict { p in p.string("w"); tensor(&p, size: [1 << 40], stride: [1]) }),
        ("gib-views", dict { p in for i in 0..<8 { p.string("w\(i)"); tensor(&p, numel: 1, size: [1 << 28], stride: [0]) } }),
        ("cyclic-list", dict { p in
            // A list appended to itself through the memo: a reference cycle the reader must break.
            p.string("a"); p.op(.emptyList); p.op(.binPut); p.op(9); p.op(.binGet); p.op(9); p.op(.append)
        }),
        ("forbidden-global", { () -> [UInt8] in
            var p = PickleWriter()
            p.proto(); p.global("os", "system"); p.string("echo pwned"); p.op(.tuple1); p.op(.reduce); p.op(.stop)
            return p.bytes
        }()),
    ]
}
