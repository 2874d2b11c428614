import Foundation
import GLMNN
import GLMTensor
import XCTest

/// Pickles, tensor views, model-parallel shapes and safetensors headers as an attacker makes them
/// (issue 12, classes 2, 3, 4 and 10). Every crafted file is built here with ``PickleWriter``.
final class HostileCheckpointTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("glmnn-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A legacy `torch.save` file: magic, protocol, sys_info, the object `object` writes, the storage
    /// keys, then each storage as an 8-byte element count and its bytes.
    func legacy(_ object: (inout PickleWriter) -> Void, storages: [(key: String, count: Int, bytes: [UInt8])] = []) -> URL {
        var out: [UInt8] = []
        var p = PickleWriter()
        p.proto(); p.long([0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]); p.op(.stop)
        p.proto(); p.int(1001); p.op(.stop)
        p.proto(); p.op(.emptyDict); p.op(.stop)
        p.proto(); object(&p); p.op(.stop)
        p.proto(); p.op(.emptyList); p.op(.mark); for s in storages { p.string(s.key) }; p.op(.appends); p.op(.stop)
        out += p.bytes
        for s in storages {
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(s.count) >> (8 * UInt64(i)))) }
            out += s.bytes
        }
        let url = dir.appendingPathComponent("ckpt-\(UUID().uuidString.prefix(6)).bin")
        FileManager.default.createFile(atPath: url.path, contents: Data(out))
        return url
    }

    /// `_rebuild_tensor_v2(storage(key, type, numel), offset, size, stride, False, OrderedDict())`.
    func tensor(_ p: inout PickleWriter, key: String = "0", type: String = "FloatStorage", numel: Int,
                offset: Int = 0, size: [Int], stride: [Int]) {
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.op(.mark)
        p.op(.mark); p.string("storage"); p.global("torch", type); p.string(key); p.string("cpu"); p.int(numel); p.op(.none); p.op(.tuple)
        p.op(.binPersId)
        p.int(offset); p.tuple(size); p.tuple(stride); p.op(.newFalse)
        p.global("collections", "OrderedDict"); p.op(.emptyTuple); p.op(.reduce)
        p.op(.tuple)
        p.op(.reduce)
    }

    /// `{"name": tensor, …}` with the given tensors.
    func stateDict(_ entries: [(String, (inout PickleWriter) -> Void)]) -> (inout PickleWriter) -> Void {
        { p in
            p.op(.emptyDict); p.op(.mark)
            for (name, value) in entries { p.string(name); value(&p) }
            p.op(.setItems)
        }
    }

    func floatBytes(_ xs: [Float]) -> [UInt8] { xs.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } } }

    // MARK: class 2: deep pickles

    /// 200,000 nested lists, tuples and dicts (a few hundred KB) load and are freed without
    /// recursion; before, freeing the value tree overflowed the stack at about 50,000.
    func testDeeplyNestedValuesAreFreedIteratively() throws {
        let n = 200_000
        let deepList: (inout PickleWriter) -> Void = { p in
            for _ in 0..<n { p.op(.emptyList) }
            for _ in 0..<(n - 1) { p.op(.append) }
        }
        let deepTuple: (inout PickleWriter) -> Void = { p in
            for _ in 0..<n { p.op(.mark) }
            for _ in 0..<n { p.op(.tuple) }
        }
        let deepDict: (inout PickleWriter) -> Void = { p in
            for _ in 0..<n { p.op(.emptyDict); p.string("k") }
            p.op(.none)
            for _ in 0..<n { p.op(.setItem) }
        }
        let url = legacy(stateDict([("a", deepList), ("b", deepTuple), ("c", deepDict),
                                    ("w", { self.tensor(&$0, numel: 2, size: [2], stride: [1]) })]),
                         storages: [("0", 2, floatBytes([1.5, -2]))])
        let t = try PyTorchCheckpoint.read(url)
        XCTAssertEqual(Array(t.keys), ["w"])
        XCTAssertEqual(t["w"]?.floats(), [1.5, -2])
    }

    /// A persistent id nested 100,000 deep is refused with a short message (building the message
    /// used to recurse through the whole value).
    func testDeepPersistentIdGivesABoundedError() throws {
        let url = legacy { p in
            for _ in 0..<100_000 { p.op(.mark) }
            p.string("storage")
            for _ in 0..<100_000 { p.op(.tuple) }
            p.op(.binPersId)
        }
        XCTAssertThrowsError(try PyTorchCheckpoint.read(url)) { e in
            guard case CheckpointError.unsupportedPickle(_, let detail) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(detail.contains("persistent id"), detail)
            XCTAssertLessThan("\(e)".count, 1000)
        }
    }

    /// `_rebuild_from_type_v2(func, type, args, state)` nested 20,000 deep through `args` is
    /// unwrapped in a loop (it used to recurse once per level).
    func testNestedRebuildFromTypeIsUnwrappedIteratively() throws {
        let depth = 20_000
        let url = legacy(stateDict([("w", { p in
            p.global("torch._tensor", "_rebuild_from_type_v2")
            for _ in 0..<depth { p.op(.mark); p.global("torch._tensor", "_rebuild_from_type_v2"); p.op(.none) }
            p.op(.mark); p.global("torch._utils", "_rebuild_tensor_v2"); p.op(.none)
            p.op(.mark)
            p.op(.mark); p.string("storage"); p.global("torch", "FloatStorage"); p.string("0"); p.string("cpu"); p.int(1); p.op(.none); p.op(.tuple)
            p.op(.binPersId); p.int(0); p.tuple([1]); p.tuple([1]); p.op(.newFalse); p.op(.none)
            p.op(.tuple)
            p.op(.none); p.op(.tuple)
            for _ in 0..<depth { p.op(.none); p.op(.tuple) }
            p.op(.reduce)
        })]), storages: [("0", 1, floatBytes([7]))])
        XCTAssertEqual(try PyTorchCheckpoint.read(url)["w"]?.floats(), [7])
    }

    // MARK: class 3: tensor sizes from the pickle

    func testImpossibleTensorSizesAreErrors() throws {
        let one = [("0", 1, floatBytes([3]))]
        func read(_ size: [Int], _ stride: [Int]) -> Error? {
            let url = legacy(stateDict([("w", { self.tensor(&$0, numel: 1, size: size, stride: stride) })]), storages: one)
            do { _ = try PyTorchCheckpoint.read(url); return nil } catch { return error }
        }
        // (2**62,) over one element with stride 0: passes the bounds check, then used to trap on count × 4.
        guard case CheckpointError.corruptHeader(_, let d)? = read([1 << 62], [0]) else { return XCTFail() }
        XCTAssertTrue(d.contains("'w'"), d)
        // (2**60,): 4 EiB of floats, more than any machine has.
        guard case CheckpointError.tooLarge(_, let d2)? = read([1 << 60], [0]) else { return XCTFail() }
        XCTAssertTrue(d2.contains("'w'"), d2)
        // 2**40 contiguous elements: used to abort allocating terabytes.
        guard case CheckpointError.truncated? = read([1 << 40], [1]) else { return XCTFail() }
        // Sizes whose product or reach overflows.
        guard case CheckpointError.corruptHeader? = read([1 << 62, 4], [0, 0]) else { return XCTFail() }
        guard case CheckpointError.corruptHeader? = read([2, 2], [1 << 62, 1]) else { return XCTFail() }
        guard case CheckpointError.corruptHeader? = read([-1], [1]) else { return XCTFail() }
    }

    /// 64 views of 2^28 floats over one 4-byte storage (64 GiB claimed by a file of a few KB) are
    /// read in an instant: views are gathered only when their values are used.
    func testViewsAreGatheredOnlyWhenUsed() throws {
        var entries: [(String, (inout PickleWriter) -> Void)] = []
        for i in 0..<64 { entries.append(("big\(i)", { self.tensor(&$0, numel: 1, size: [1 << 28], stride: [0]) })) }
        entries.append(("small", { self.tensor(&$0, numel: 1, size: [3, 2], stride: [0, 0]) }))
        let url = legacy(stateDict(entries), storages: [("0", 1, floatBytes([3]))])
        XCTAssertLessThan(try Data(contentsOf: url).count, 20_000)
        let start = Date()
        let t = try PyTorchCheckpoint.read(url)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertEqual(t.count, 65)
        XCTAssertEqual(t["big0"]?.byteCount, 1 << 30)
        XCTAssertEqual(t["small"]?.shape, [3, 2])
        XCTAssertEqual(t["small"]?.floats(), [Float](repeating: 3, count: 6))
    }

    /// int64 storages become int32 only when every value the view reads fits.
    func testInt64OutOfRangeIsAnError() throws {
        func i64(_ xs: [Int64]) -> [UInt8] { xs.flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } } }
        let fits = legacy(stateDict([("ids", { self.tensor(&$0, type: "LongStorage", numel: 3, offset: 1, size: [2], stride: [1]) })]),
                          storages: [("0", 3, i64([1 << 40, 5, -6]))])
        XCTAssertEqual(try PyTorchCheckpoint.read(fits)["ids"]?.floats(), [5, -6], "the out-of-range value is outside the view")
        let big = legacy(stateDict([("ids", { self.tensor(&$0, type: "LongStorage", numel: 3, size: [3], stride: [1]) })]),
                         storages: [("0", 3, i64([1 << 40, 5, -6]))])
        XCTAssertThrowsError(try PyTorchCheckpoint.read(big)) {
            guard case CheckpointError.unsupportedDType(_, "ids", _) = $0 else { return XCTFail("\($0)") }
        }
    }

    // MARK: class 4: model-parallel merge shapes

    func testModelParallelShapesThatOverflowAreErrors() throws {
        let huge = try TensorData(dtype: .f32, shape: [1 << 62, 0], bytes: [])
        XCTAssertThrowsError(try CheckpointLoader.mergeModelParallel([["word_embeddings.weight": huge], ["word_embeddings.weight": huge]],
                                                                 file: "ranks", split: { _ in .rows })) {
            guard case CheckpointError.inconsistentShards(_, let d) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(d.contains("word_embeddings.weight"), d)
        }
        let wide = try TensorData(dtype: .f32, shape: [0, 1 << 62], bytes: [])
        let key = "transformer.layers.0.attention.dense.weight"
        XCTAssertThrowsError(try CheckpointLoader.mergeModelParallel([[key: wide], [key: wide]], file: "ranks", split: { _ in .columns })) {
            guard case CheckpointError.inconsistentShards = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertNil(TensorData.elementCount([1 << 62, 4]))
        XCTAssertEqual(TensorData.elementCount([1 << 62, 4, 0]), 0)
    }

    // MARK: class 10: safetensors keys named twice, folders given as files

    func testSafetensorsDuplicateKeysAreRefused() throws {
        let header = #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#
        var bytes = [UInt8]()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { bytes += $0 }
        bytes += Array(header.utf8) + floatBytes([1, 2])
        let url = dir.appendingPathComponent("dup.safetensors")
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try SafeTensors.read(url)) {
            guard case CheckpointError.corruptHeader(_, let d) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(d.contains("'w' more than once"), d)
        }
        // Escaped spellings of one name are the same name.
        let escaped = #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "\u0077": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#
        var b2 = [UInt8]()
        var m = UInt64(escaped.utf8.count).littleEndian
        withUnsafeBytes(of: &m) { b2 += $0 }
        b2 += Array(escaped.utf8) + floatBytes([1, 2])
        try Data(b2).write(to: url)
        XCTAssertThrowsError(try SafeTensors.read(url))
    }

    func testFolderWhereAFileIsExpected() throws {
        let model = dir.appendingPathComponent("m")
        try FileManager.default.createDirectory(at: model.appendingPathComponent("model.safetensors"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try CheckpointLoader.load(model)) { e in
            XCTAssertTrue("\(e)".contains("model.safetensors"), "\(e)")
            XCTAssertTrue("\(e)".contains("is a folder, expected a file"), "\(e)")
            XCTAssertFalse("\(e)".contains("NSCocoaErrorDomain"), "\(e)")
        }
        XCTAssertThrowsError(try SafeTensors.read(model.appendingPathComponent("model.safetensors"))) {
            XCTAssertTrue("\($0)".contains("is a folder, expected a file"), "\($0)")
        }
    }
}
