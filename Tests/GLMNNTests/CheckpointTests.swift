import Foundation
import GLM
import GLMNN
import GLMTensor
import XCTest

/// Every checkpoint format in Fixtures/ (written by Tools/reference/make_fixtures.py from one tiny
/// model: L=2, h=16, n=2, P=16, V=64) must load to the values of Fixtures/model.safetensors.
final class CheckpointTests: XCTestCase {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    func fixture(_ path: String) -> URL { Self.fixtures.appendingPathComponent(path) }

    /// The official key names and shapes of the fixture model (docs/official-glm.md §1.1).
    static let expectedShapes: [String: [Int]] = {
        let (L, h, V, P) = (2, 16, 64, 16)
        var s: [String: [Int]] = [
            "word_embeddings.weight": [V, h],
            "transformer.position_embeddings.weight": [P + 1, h],
            "transformer.block_position_embeddings.weight": [P + 1, h],
            "transformer.final_layernorm.weight": [h],
            "transformer.final_layernorm.bias": [h],
        ]
        for i in 0..<L {
            let p = "transformer.layers.\(i)."
            s[p + "input_layernorm.weight"] = [h]
            s[p + "input_layernorm.bias"] = [h]
            s[p + "attention.query_key_value.weight"] = [3 * h, h]
            s[p + "attention.query_key_value.bias"] = [3 * h]
            s[p + "attention.dense.weight"] = [h, h]
            s[p + "attention.dense.bias"] = [h]
            s[p + "post_attention_layernorm.weight"] = [h]
            s[p + "post_attention_layernorm.bias"] = [h]
            s[p + "mlp.dense_h_to_4h.weight"] = [4 * h, h]
            s[p + "mlp.dense_h_to_4h.bias"] = [4 * h]
            s[p + "mlp.dense_4h_to_h.weight"] = [h, 4 * h]
            s[p + "mlp.dense_4h_to_h.bias"] = [h]
        }
        return s
    }()

    func reference() throws -> [String: TensorData] {
        try SafeTensors.read(fixture("model.safetensors"))
    }

    /// Same keys, shapes and values as the reference, within `relTol` (0 = bit-exact f32).
    func assertMatchesReference(_ got: [String: TensorData], relTol: Float = 0, file: StaticString = #filePath, line: UInt = #line) throws {
        let ref = try reference()
        XCTAssertEqual(Set(got.keys), Set(ref.keys), file: file, line: line)
        for (k, r) in ref {
            guard let g = got[k] else { continue }
            XCTAssertEqual(g.shape, r.shape, k, file: file, line: line)
            let a = g.floats(), b = r.floats()
            XCTAssertEqual(a.count, b.count, k, file: file, line: line)
            if relTol == 0 {
                XCTAssertEqual(g.dtype, .f32, k, file: file, line: line)
                XCTAssertTrue(a == b, "\(k) differs", file: file, line: line)
            } else {
                let worst = zip(a, b).map { abs($0 - $1) - relTol * abs($1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-7, "\(k) beyond rounding", file: file, line: line)
            }
        }
    }

    func assertThrows(_ expected: CheckpointError, mentioning words: [String] = [], _ body: () throws -> Any,
                      file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected \(expected)", file: file, line: line)
        } catch let e as CheckpointError {
            XCTAssertEqual(e, expected, file: file, line: line)
            for w in words { XCTAssertTrue(e.description.contains(w), "'\(e.description)' lacks '\(w)'", file: file, line: line) }
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    func assertThrowsKind(_ body: () throws -> Any, mentioning words: [String], _ kind: (CheckpointError) -> Bool,
                          file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let e as CheckpointError {
            XCTAssertTrue(kind(e), "wrong error: \(e)", file: file, line: line)
            for w in words { XCTAssertTrue(e.description.contains(w), "'\(e.description)' lacks '\(w)'", file: file, line: line) }
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    // MARK: formats

    func testSafeTensorsReferenceHasOfficialKeysAndShapes() throws {
        let ref = try reference()
        XCTAssertEqual(ref.count, 29)
        try CheckpointLoader.verify(ref, expected: Self.expectedShapes, source: "model.safetensors")
        XCTAssertTrue(ref.values.allSatisfy { $0.dtype == .f32 && $0.byteCount == $0.shape.reduce(1, *) * 4 })
        // The loader picks model.safetensors from the folder, which also holds pytorch_model.bin.
        try assertMatchesReference(try CheckpointLoader.load(Self.fixtures, split: GLMParameters.split(for:)))
    }

    func testPyTorchZipBin() throws {
        try assertMatchesReference(try PyTorchCheckpoint.read(fixture("pytorch_model.bin")))
        try assertMatchesReference(try CheckpointLoader.load(fixture("pytorch_model.bin"), split: GLMParameters.split(for:)))
    }

    func testGLMPrefixedKeysAreStripped() throws {
        let raw = try PyTorchCheckpoint.read(fixture("hf-prefixed/pytorch_model.bin"))
        XCTAssertTrue(raw.keys.allSatisfy { $0.hasPrefix("glm.") })
        try assertMatchesReference(try CheckpointLoader.load(fixture("hf-prefixed"), split: GLMParameters.split(for:)))
    }

    func testOfficialLayoutWithTrackerFile() throws {
        try assertMatchesReference(try CheckpointLoader.load(fixture("official"), split: GLMParameters.split(for:)))
        // Without the tracker file, the tag folder itself.
        try assertMatchesReference(try CheckpointLoader.load(fixture("official/release"), split: GLMParameters.split(for:)))
        // Extras (iteration, RNG states with numpy globals, a uint8 and an i64 tensor) are outside `module`.
        let direct = try PyTorchCheckpoint.read(fixture("official/release/mp_rank_00_model_states.pt"))
        XCTAssertEqual(direct.count, 29)
        XCTAssertNil(direct["step_ids"])
    }

    func testModelParallelTwoRanksMerge() throws {
        let r0 = try PyTorchCheckpoint.read(fixture("official-mp2/release/mp_rank_00_model_states.pt"))
        XCTAssertEqual(r0["word_embeddings.weight"]?.shape, [32, 16])
        XCTAssertEqual(r0["transformer.layers.0.attention.query_key_value.weight"]?.shape, [24, 16])
        XCTAssertEqual(r0["transformer.layers.0.attention.dense.weight"]?.shape, [16, 8])
        XCTAssertEqual(r0["transformer.layers.1.mlp.dense_4h_to_h.weight"]?.shape, [16, 32])
        XCTAssertEqual(r0["transformer.layers.1.mlp.dense_h_to_4h.bias"]?.shape, [32])
        try assertMatchesReference(try CheckpointLoader.load(fixture("official-mp2"), split: GLMParameters.split(for:)))
    }

    func testModelParallelMismatchIsReported() throws {
        let a = try reference()
        var b = a
        b.removeValue(forKey: "transformer.final_layernorm.bias")
        assertThrowsKind({ try CheckpointLoader.mergeModelParallel([a, b], file: "x", split: GLMParameters.split(for:)) }, mentioning: ["x", "transformer.final_layernorm.bias"]) {
            if case .inconsistentShards = $0 { return true }; return false
        }
    }

    func testHalfPrecisionCopies() throws {
        let fp16 = try CheckpointLoader.load(fixture("fp16"), split: GLMParameters.split(for:))
        XCTAssertTrue(fp16.values.allSatisfy { $0.dtype == .f16 })
        try assertMatchesReference(fp16, relTol: 1.0 / 2048)  // half: 11 significant bits
        let bf16 = try CheckpointLoader.load(fixture("bf16"), split: GLMParameters.split(for:))
        XCTAssertTrue(bf16.values.allSatisfy { $0.dtype == .bf16 })
        try assertMatchesReference(bf16, relTol: 1.0 / 256)  // bfloat16: 8 significant bits
    }

    func testViewsAndSharedStorages() throws {
        for name in ["views.bin", "legacy-views.bin"] { try checkViews(name) }
    }

    func checkViews(_ name: String) throws {
        let got = try PyTorchCheckpoint.read(fixture(name))
        let want = try SafeTensors.read(fixture("views.safetensors"))
        XCTAssertEqual(Set(got.keys), Set(want.keys))
        for (k, w) in want {
            XCTAssertEqual(got[k]?.shape, w.shape, k)
            XCTAssertEqual(got[k]?.dtype, w.dtype, k)
            XCTAssertEqual(got[k]?.floats(), w.floats(), k)
        }
        XCTAssertEqual(got["transposed"]?.shape, [6, 4])
        XCTAssertEqual(got["scalar"]?.shape, [])
        XCTAssertEqual(got["scalar"]?.floats(), [3.5])
        XCTAssertEqual(got["half_view"]?.floats(), [0, 2, 4, 6])
    }

    func testLegacyNonZipFormat() throws {
        try assertMatchesReference(try PyTorchCheckpoint.read(fixture("legacy.bin")))
    }

    func testZip64Records() throws {
        try assertMatchesReference(try PyTorchCheckpoint.read(fixture("zip64.bin")))
    }

    // MARK: refusals

    func testCompressedEntriesAreRefused() {
        let url = fixture("compressed.bin")
        assertThrowsKind({ try PyTorchCheckpoint.read(url) }, mentioning: [url.path, "compressed"]) {
            if case .compressedEntry(let f, _, let method) = $0 { return f == url.path && method == 8 }; return false
        }
    }

    func testMaliciousPickleIsRefusedAndNotExecuted() throws {
        let marker = "/tmp/swift-glm-evil-pickle-ran"
        try? FileManager.default.removeItem(atPath: marker)
        for name in ["evil.bin", "evil-legacy.bin"] {
            let url = fixture(name)
            assertThrows(.forbiddenGlobal("os.system", file: url.path), mentioning: ["os.system", name]) {
                try PyTorchCheckpoint.read(url)
            }
            assertThrows(.forbiddenGlobal("os.system", file: url.path)) { try CheckpointLoader.load(url, split: GLMParameters.split(for:)) }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the pickle's command ran")
    }

    func testTruncatedFilesGiveClearErrors() {
        for name in ["truncated.safetensors", "truncated-header.safetensors", "truncated.bin"] {
            let url = fixture(name)
            assertThrowsKind({ try CheckpointLoader.load(url, split: GLMParameters.split(for:)) }, mentioning: [url.path, "truncated"]) {
                if case .truncated(let f, _) = $0 { return f == url.path }; return false
            }
        }
    }

    func testCorruptSafeTensorsHeader() throws {
        let dir = try temporaryFolder()
        let url = dir.appendingPathComponent("bad.safetensors")
        let json = Array("{not json}".utf8)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: json.count >> (8 * $0)) }
        bytes += json
        try Data(bytes).write(to: url)
        assertThrowsKind({ try SafeTensors.read(url) }, mentioning: [url.path]) {
            if case .corruptHeader = $0 { return true }; return false
        }
        // Offsets that disagree with the shape.
        let json2 = Array(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#.utf8)
        try Data((0..<8).map { UInt8(truncatingIfNeeded: json2.count >> (8 * $0)) } + json2 + [0, 0, 0, 0]).write(to: url)
        assertThrowsKind({ try SafeTensors.read(url) }, mentioning: ["'a'"]) {
            if case .corruptHeader = $0 { return true }; return false
        }
        let json3 = Array(#"{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#.utf8)
        try Data((0..<8).map { UInt8(truncatingIfNeeded: json3.count >> (8 * $0)) } + json3 + [UInt8](repeating: 0, count: 8)).write(to: url)
        assertThrows(.unsupportedDType(file: url.path, tensor: "a", dtype: "F64")) { try SafeTensors.read(url) }
    }

    func testMissingPathsAndEmptyFolders() throws {
        let dir = try temporaryFolder()
        assertThrowsKind({ try CheckpointLoader.load(dir, split: GLMParameters.split(for:)) }, mentioning: [dir.path]) {
            if case .noCheckpoint = $0 { return true }; return false
        }
        let nowhere = dir.appendingPathComponent("nope.safetensors")
        assertThrows(.fileNotFound(file: nowhere.path)) { try CheckpointLoader.load(nowhere, split: GLMParameters.split(for:)) }
        assertThrows(.fileNotFound(file: nowhere.path)) { try SafeTensors.read(nowhere) }
    }

    // MARK: writing, keys

    func testSafeTensorsWriteReadRoundTrip() throws {
        let dir = try temporaryFolder()
        let url = dir.appendingPathComponent("model.safetensors")
        var tensors = try reference()
        tensors["extra.bf16"] = TensorData(dtype: .bf16, shape: [3], floats: [1, -2.5, 0.15625])
        tensors["extra.f16"] = TensorData(dtype: .f16, shape: [2, 1], floats: [65504, -0.000061035156])
        tensors["extra.i32"] = try TensorData(dtype: .i32, shape: [2], bytes: [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        tensors["extra.scalar"] = TensorData(dtype: .f32, shape: [], floats: [7])
        tensors["extra.empty"] = TensorData(dtype: .f32, shape: [0, 4], floats: [])
        // Write twice: the second write replaces the first through rename.
        try SafeTensors.write(["stale": TensorData(dtype: .f32, shape: [1], floats: [1])], to: url)
        try SafeTensors.write(tensors, to: url, metadata: ["format": "pt", "note": "round \"trip\""])
        let (back, meta) = try SafeTensors.readWithMetadata(url)
        XCTAssertEqual(meta, ["format": "pt", "note": "round \"trip\""])
        XCTAssertEqual(Set(back.keys), Set(tensors.keys))
        for (k, t) in tensors {
            XCTAssertEqual(back[k]?.dtype, t.dtype, k)
            XCTAssertEqual(back[k]?.shape, t.shape, k)
            XCTAssertEqual(back[k]?.withUnsafeBytes { Array($0) }, t.withUnsafeBytes { Array($0) }, k)
        }
        XCTAssertEqual(back["extra.bf16"]?.floats(), [1, -2.5, 0.15625])
        XCTAssertEqual(back["extra.f16"]?.floats(), [65504, -0.000061035156])
        XCTAssertEqual(back["extra.i32"]?.floats(), [1, -1])
        // The header is 8-byte aligned and no temporary file is left behind.
        let raw = try Data(contentsOf: url)
        let n = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(n % 8, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"])
        // Python's safetensors would read it too: the reference file's layout rules are the same
        // (checked by reading the reference file, written by Python, with the same code above).
    }

    func testTorchSaveWriterRoundTrip() throws {
        let dir = try temporaryFolder()
        var tensors = try reference()
        tensors["extra.bf16"] = TensorData(dtype: .bf16, shape: [3], floats: [1, -2.5, 0.15625])
        tensors["extra.f16"] = TensorData(dtype: .f16, shape: [2, 1], floats: [65504, -0.5])
        tensors["extra.i32"] = TensorData(dtype: .i32, shape: [2], floats: [7, -9])
        tensors["extra.scalar"] = TensorData(dtype: .f32, shape: [], floats: [7])
        tensors["extra.empty"] = TensorData(dtype: .f32, shape: [0, 4], floats: [])
        for zip64 in [false, true] {
            let url = dir.appendingPathComponent("out-\(zip64).bin")
            try PyTorchCheckpoint.write(tensors, to: url, zip64: zip64)
            let back = try PyTorchCheckpoint.read(url)
            XCTAssertEqual(Set(back.keys), Set(tensors.keys))
            for (k, t) in tensors {
                XCTAssertEqual(back[k]?.dtype, t.dtype, k)
                XCTAssertEqual(back[k]?.shape, t.shape, k)
                XCTAssertEqual(back[k]?.withUnsafeBytes { Array($0) }, t.withUnsafeBytes { Array($0) }, k)
            }
        }
        // The official layout, read back through the folder loader (tracker file → tag → rank 0).
        let official = dir.appendingPathComponent("official")
        try PyTorchCheckpoint.writeOfficial(try reference(), to: official, tag: "1000", iteration: 1000)
        XCTAssertEqual(try String(contentsOf: official.appendingPathComponent("latest_checkpointed_iteration.txt"), encoding: .utf8), "1000")
        try assertMatchesReference(try CheckpointLoader.load(official, split: GLMParameters.split(for:)))
        // DeepSpeed's tracker name.
        try FileManager.default.moveItem(at: official.appendingPathComponent("latest_checkpointed_iteration.txt"),
                                         to: official.appendingPathComponent("latest"))
        try assertMatchesReference(try CheckpointLoader.load(official, split: GLMParameters.split(for:)))
        // A tracker naming a tag folder that does not exist.
        try Data("global_step7\n".utf8).write(to: official.appendingPathComponent("latest"))
        assertThrowsKind({ try CheckpointLoader.load(official, split: GLMParameters.split(for:)) }, mentioning: [official.path, "global_step7/mp_rank_00_model_states.pt"]) {
            if case .noCheckpoint = $0 { return true }; return false
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [])
    }

    func testShardedIndexFolders() throws {
        // Hugging Face sharded checkpoints: an index maps each key to its shard file.
        let ref = try reference()
        let keys = ref.keys.sorted()
        let half = keys.count / 2
        for format in ["safetensors", "bin"] {
            let dir = try temporaryFolder()
            let shards = ["model-00001-of-00002.\(format)", "model-00002-of-00002.\(format)"]
            for (i, part) in [keys[..<half], keys[half...]].enumerated() {
                let subset = Dictionary(uniqueKeysWithValues: part.map { ("glm." + $0, ref[$0]!) })
                let url = dir.appendingPathComponent(shards[i])
                if format == "bin" { try PyTorchCheckpoint.write(subset, to: url) } else { try SafeTensors.write(subset, to: url) }
            }
            var map: [String: String] = [:]
            for (i, k) in keys.enumerated() { map["glm." + k] = shards[i < half ? 0 : 1] }
            let index = try JSONSerialization.data(withJSONObject: ["metadata": [:] as [String: String], "weight_map": map])
            let name = format == "bin" ? "pytorch_model.bin.index.json" : "model.safetensors.index.json"
            try index.write(to: dir.appendingPathComponent(name))
            try assertMatchesReference(try CheckpointLoader.load(dir, split: GLMParameters.split(for:)))
            // A key the index promises but no shard has.
            map["glm.lost.weight"] = shards[0]
            try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: dir.appendingPathComponent(name))
            assertThrows(.missingKeys(["glm.lost.weight"], file: dir.appendingPathComponent(name).path)) { try CheckpointLoader.load(dir, split: GLMParameters.split(for:)) }
        }
    }

    func testOverwritingTheFileBeingReadIsSafe() throws {
        let url = try temporaryFolder().appendingPathComponent("model.safetensors")
        try FileManager.default.copyItem(at: fixture("model.safetensors"), to: url)
        let mapped = try SafeTensors.read(url)  // slices of a mapping of `url`
        let halves = mapped.mapValues { $0.converted(to: .bf16) }
        try SafeTensors.write(mapped.merging(halves.map { ("bf16." + $0.key, $0.value) }) { a, _ in a }, to: url)
        try assertMatchesReference(mapped)  // the old mapping is intact
        let back = try SafeTensors.read(url)
        XCTAssertEqual(back.count, 58)
        try assertMatchesReference(back.filter { !$0.key.hasPrefix("bf16.") })
        try assertMatchesReference(Dictionary(uniqueKeysWithValues: back.filter { $0.key.hasPrefix("bf16.") }.map { (String($0.key.dropFirst(5)), $0.value) }),
                                   relTol: 1.0 / 256)
        XCTAssertEqual(back["word_embeddings.weight"]?.converted(to: .f32).dtype, .f32)
    }

    func testWriteIntoMissingFolderFailsCleanly() throws {
        let url = try temporaryFolder().appendingPathComponent("no/such/dir/model.safetensors")
        assertThrowsKind({ try SafeTensors.write([:], to: url) }, mentioning: ["no/such/dir"]) {
            if case .io = $0 { return true }; return false
        }
    }

    func testPrefixesAreNormalised() throws {
        XCTAssertEqual(CheckpointLoader.normalisedKey("glm.word_embeddings.weight"), "word_embeddings.weight")
        XCTAssertEqual(CheckpointLoader.normalisedKey("module.glm.transformer.x"), "transformer.x")
        XCTAssertEqual(CheckpointLoader.normalisedKey("model.pool_layer.weight"), "pool_layer.weight")
        XCTAssertEqual(CheckpointLoader.normalisedKey("transformer.model.x"), "transformer.model.x")
        let dir = try temporaryFolder()
        let url = dir.appendingPathComponent("p.safetensors")
        let t = TensorData(dtype: .f32, shape: [1], floats: [1])
        try SafeTensors.write(["module.a": t, "model.glm.b": t, "c": t], to: url)
        XCTAssertEqual(Set(try CheckpointLoader.load(url, split: GLMParameters.split(for:)).keys), ["a", "b", "c"])
        try SafeTensors.write(["glm.a": t, "a": t], to: url)
        assertThrowsKind({ try CheckpointLoader.load(url, split: GLMParameters.split(for:)) }, mentioning: ["glm.a"]) {
            if case .duplicateKeys = $0 { return true }; return false
        }
    }

    func testVerifyListsMissingUnexpectedAndMisshapedKeys() throws {
        var sd = try reference()
        sd.removeValue(forKey: "transformer.layers.1.mlp.dense_4h_to_h.bias")
        sd.removeValue(forKey: "word_embeddings.weight")
        sd["transformer.final_layernorm.bias"] = TensorData(dtype: .f32, shape: [3], floats: [0, 0, 0])
        sd["pool_layer.weight"] = TensorData(dtype: .f32, shape: [1], floats: [0])
        assertThrows(.keyMismatch(missing: ["transformer.layers.1.mlp.dense_4h_to_h.bias", "word_embeddings.weight"],
                                  misshaped: ["transformer.final_layernorm.bias: expected [16], found [3]"],
                                  unexpected: ["pool_layer.weight"], file: "m")) {
            try CheckpointLoader.verify(sd, expected: Self.expectedShapes, source: "m")
        }
        sd = try reference()
        sd["pool_layer.weight"] = TensorData(dtype: .f32, shape: [1], floats: [0])
        assertThrows(.keyMismatch(missing: [], misshaped: [], unexpected: ["pool_layer.weight"], file: "m")) {
            try CheckpointLoader.verify(sd, expected: Self.expectedShapes, source: "m")
        }
        try CheckpointLoader.verify(sd, expected: Self.expectedShapes, source: "m", allowUnexpected: true)
        // Fewer rows are accepted only for keys declared extendable, and only fewer.
        sd = try reference()
        let table = "transformer.position_embeddings.weight"
        let rows = Self.expectedShapes[table]!
        sd[table] = TensorData(dtype: .f32, shape: [rows[0] - 2, rows[1]], floats: [Float](repeating: 0, count: (rows[0] - 2) * rows[1]))
        try CheckpointLoader.verify(sd, expected: Self.expectedShapes, source: "m", extendableRows: [table])
        assertThrows(.keyMismatch(missing: [], misshaped: ["\(table): expected \(rows), found [\(rows[0] - 2), \(rows[1])]"], unexpected: [], file: "m")) {
            try CheckpointLoader.verify(sd, expected: Self.expectedShapes, source: "m")
        }
        sd[table] = TensorData(dtype: .f32, shape: [rows[0] + 1, rows[1]], floats: [Float](repeating: 0, count: (rows[0] + 1) * rows[1]))
        XCTAssertThrowsError(try CheckpointLoader.verify(sd, expected: Self.expectedShapes, source: "m", extendableRows: [table]))
    }

    func testTensorDataConversions() throws {
        let values: [Float] = [0, -0.0, 1, -1.5, 3.140625, 65504, 1e-7, 6.0e-8, 70000, .infinity]
        let h = TensorData(dtype: .f16, shape: [values.count], floats: values)
        XCTAssertEqual(h.byteCount, 2 * values.count)
        // 1e-7 rounds to the nearest subnormal half (2 × 2⁻²⁴), 6e-8 to 2⁻²⁴, 70000 overflows to inf.
        XCTAssertEqual(h.floats(), [0, -0.0, 1, -1.5, 3.140625, 65504, 1.1920929e-07, 5.9604645e-08, .infinity, .infinity])
        let b = TensorData(dtype: .bf16, shape: [3], floats: [1, 1.00390625, 1.01171875])
        // bf16 keeps 8 significant bits; ties round to even.
        XCTAssertEqual(b.floats(), [1, 1, 1.015625])
        XCTAssertThrowsError(try TensorData(dtype: .f32, shape: [2], bytes: [0, 0, 0]))
        let i = TensorData(dtype: .i32, shape: [2], floats: [3, -4])
        XCTAssertEqual(i.floats(), [3, -4])
    }

    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("glmnn-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}

/// Damaged files must produce a ``CheckpointError``, never a crash: every reader bounds-checks
/// offsets, sizes and strides that come from the file.
final class CheckpointRobustnessTests: XCTestCase {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    /// Loads `bytes` from a temporary file: success or a CheckpointError are both fine, and a
    /// successful load must have readable tensors.
    func load(_ bytes: [UInt8], name: String, in dir: URL) -> Bool {
        let url = dir.appendingPathComponent(name)
        _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
        do {
            let tensors = try CheckpointLoader.load(url, split: GLMParameters.split(for:))
            for t in tensors.values { XCTAssertEqual(t.floats().count, t.count) }
            return true
        } catch is CheckpointError {
            return false
        } catch {
            XCTFail("\(name): non-checkpoint error \(error)")
            return false
        }
    }

    func testTruncationAndByteCorruptionNeverCrash() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glmnn-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: seed >> 33)
        }
        for name in ["model.safetensors", "pytorch_model.bin", "legacy.bin", "zip64.bin",
                     "official/release/mp_rank_00_model_states.pt", "views.bin"] {
            let original = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent(name)))
            let ext = (name as NSString).pathExtension
            var cutLoads = 0
            for cut in stride(from: 0, to: original.count, by: max(1, original.count / 150)) {
                if load(Array(original[..<cut]), name: "cut.\(ext)", in: dir) { cutLoads += 1 }
            }
            // A truncated file may still parse (the cut removed only unused trailing bytes) but
            // never more than a handful of times.
            XCTAssertLessThan(cutLoads, 3, name)
            for _ in 0..<300 {
                var damaged = original
                for _ in 0..<(1 + next() % 3) {
                    damaged[next() % damaged.count] = UInt8(truncatingIfNeeded: next())
                }
                _ = load(damaged, name: "damaged.\(ext)", in: dir)
            }
        }
    }
}
