import Foundation
import XCTest
import GLMTestSupport
import GLM
import GLMDistributed
import GLMNN
import GLMTensor
import GLMTrain

/// The data-parallel pieces without MPI: ranks are threads of this process (``ThreadGroup``),
/// so these run in every build.
final class DataParallelUnitTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("glm-dpunit-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    static let tiny = GLMConfig(numLayers: 1, hiddenSize: 16, numAttentionHeads: 2, vocabSize: 64, maxSequenceLength: 16, dropout: 0)

    func testBatchPartsSplitRowsByTheDocumentedRule() throws {
        XCTAssertEqual((0..<3).map { BatchPart(rank: $0, of: 3).range(rows: 8) }, [0..<2, 2..<5, 5..<8])
        XCTAssertEqual((0..<2).map { BatchPart(rank: $0, of: 2).range(rows: 8) }, [0..<4, 4..<8])
        XCTAssertEqual(BatchPart(rank: 1, of: 3).window(rows: 8), RowWindow(first: 2, count: 3, total: 8))
        XCTAssertNil(BatchPart.whole.window(rows: 8))
        XCTAssertNil(BatchPart.whole.normalizer(wholeBatchMask: 12))
        XCTAssertEqual(BatchPart(rank: 0, of: 2).normalizer(wholeBatchMask: 12), 12)
        // The last micro-batch of an epoch may have fewer rows than there are ranks: empty parts.
        XCTAssertEqual((0..<4).map { BatchPart(rank: $0, of: 4).range(rows: 3).count }, [0, 1, 1, 1])
        XCTAssertNil(BatchPart(rank: 0, of: 4).window(rows: 3))
        XCTAssertThrowsError(try BatchPart(rank: 0, of: 4).check(batchSize: 3)) {
            XCTAssertTrue("\($0)".contains("a batch of 3 rows cannot be split over 4 ranks"), "\($0)")
        }
    }

    /// Optimizers that each own a shard (cutting through parameters, with and without weight
    /// decay) update exactly what one optimizer over the whole store does.
    func testShardedAdamWUpdatesExactlyItsPartOfTheWholeUpdate() throws {
        func store() throws -> ParameterStore {
            let s = try ParameterStore([("a.weight", [5, 7]), ("a.bias", [7]), ("b.weight", [33])])
            var g = TestRNG(3)
            for i in 0..<s.totalCount { s.values.floats[i] = g.float(); s.grads.floats[i] = g.float() }
            return s
        }
        let decays = [true, false, true]
        let whole = try store()
        let full = AdamW(store: whole, weightDecay: 0.1, decays: decays)
        for _ in 0..<3 { full.update(lr: 1e-2) }
        let parts = try store()
        let layout = ShardLayout(total: parts.totalCount, parts: 3, alignment: 1)
        let opts = layout.shards.map { AdamW(store: parts, weightDecay: 0.1, decays: decays, shard: $0) }
        for _ in 0..<3 { for o in opts { o.update(lr: 1e-2) } }
        XCTAssertEqual(parts.values.toArray(), whole.values.toArray())
        let m = opts.flatMap { $0.m.toArray() }, v = opts.flatMap { $0.v.toArray() }
        XCTAssertEqual(m, full.m.toArray())
        XCTAssertEqual(v, full.v.toArray())
        XCTAssertEqual(opts[1].stateBytes, 2 * layout.shards[1].count * 4)
    }

    /// Three ranks with different gradients: the replicated step equals one process's step on the
    /// summed gradient bit for bit; the ZeRO-1 step (sharded norm, shard update, all-gather) equals
    /// it up to the order of the norm's sum; every rank ends with the same values.
    func testGradientSyncClippingAndUpdateMatchOneProcess() throws {
        let n = 3
        func store() throws -> ParameterStore {
            let s = try ParameterStore([("w", [40, 9]), ("b", [9]), ("e", [130])])
            var g = TestRNG(7)
            for i in 0..<s.totalCount { s.values.floats[i] = g.float() }
            return s
        }
        func grads(_ rank: Int, _ count: Int) -> [Float] {
            var g = TestRNG(UInt64(100 + rank))
            return (0..<count).map { _ in 3 * g.float() }
        }
        let reference = try store()
        let summed = (0..<n).map { grads($0, reference.totalCount) }.reduce([Float](repeating: 0, count: reference.totalCount)) { a, b in
            zip(a, b).map { $0 + $1 }
        }
        try reference.grads.assign(summed)
        let norm = clipGradNorm(reference, maxNorm: 1)
        let opt = AdamW(store: reference, weightDecay: 0.1)
        opt.update(lr: 1e-2)
        for zero in [0, 1] {
            let results = ThreadGroup.run(n) { comm -> ([Float], Float) in
                let s = try store()
                var o = ParallelOptions()
                o.zero = zero
                o.bucketMB = 100.0 * 4 / 1_048_576   // 100-float buckets: several collectives
                let dp = DataParallel(comm: comm, store: s, options: o)
                try s.grads.assign(grads(comm.rank, s.totalCount))
                try dp.reduceGradients(s)
                let got = try dp.clip(s, maxNorm: 1)
                let a = AdamW(store: s, weightDecay: 0.1, shard: dp.optimizerShard)
                try dp.update(a, store: s, lr: 1e-2)
                return (s.values.toArray(), got)
            }
            let values = try results.map { try $0.get() }
            for (r, v) in values.enumerated() {
                if zero == 0 {
                    XCTAssertEqual(v.0, reference.values.toArray(), "rank \(r)")
                    XCTAssertEqual(v.1, norm)
                } else {
                    XCTAssertEqual(v.0, values[0].0, "rank \(r) differs from rank 0")
                    XCTAssertEqual(Double(v.1), Double(norm), accuracy: 1e-5 * Double(norm))
                    for (x, y) in zip(v.0, reference.values.toArray()) { XCTAssertEqual(x, y, accuracy: 1e-6) }
                }
            }
        }
    }

    /// Issue 12 class 9: a stop asked of one rank inside a step of 1,000,000 micro-batches abandons
    /// the step on every rank at the same micro-batch (no update), instead of after the step.
    func testOneRankStoppingMidStepAbandonsTheStepOnEveryRankTogether() throws {
        let results = ThreadGroup.run(2) { comm -> (abandoned: Bool, ran: Int, unchanged: Bool) in
            let model = try GLMModel(config: Self.tiny, seed: 3)
            let dp = DataParallel(comm: comm, store: model.store, options: ParallelOptions())
            let opt = AdamW(store: model.store, shard: dp.optimizerShard)
            var step = TrainingStep(model: model, optimizer: opt, schedule: AnnealingLR(peak: 1e-3, warmupSteps: 0, decaySteps: 10),
                                    clipGrad: 1)
            step.parallel = dp
            let before = model.store.values.toArray()
            var ran = 0
            let batches = (0..<1_000_000).map { _ in { () throws -> TrainingBatch in
                ran += 1
                return TrainingBatch(tokens: 1, label: "x") { _ in try Tensor([1], shape: [1]) }
            } }
            let result = try step.run(step: 1, batches: batches, shouldStop: { comm.rank == 1 && ran >= 50 })
            return (result == nil, ran, model.store.values.toArray() == before)
        }
        let values = try results.map { try $0.get() }
        for (r, v) in values.enumerated() {
            XCTAssertTrue(v.abandoned, "rank \(r)")
            XCTAssertEqual(v.ran, 50, "rank \(r) ran \(v.ran) micro-batches")
            XCTAssertTrue(v.unchanged, "rank \(r) updated its weights")
        }
    }

    /// One rank's bad input stops every rank, and rank 0 can say which rank failed and why.
    func testAgreeStopsEveryRankAndNamesTheFailures() throws {
        struct Bad: Error, CustomStringConvertible { let r: Int; var description: String { "no data on rank \(r)" } }
        let results = ThreadGroup.run(3) { comm -> Int in
            try comm.agree { if comm.rank != 0 { throw Bad(r: comm.rank) }; return comm.rank }
        }
        for (r, result) in results.enumerated() {
            XCTAssertThrowsError(try result.get()) { e in
                guard let f = e as? AgreedFailure else { return XCTFail("rank \(r): \(e)") }
                XCTAssertEqual(f.failures.map(\.rank), [1, 2])
                XCTAssertEqual("\(f)", "rank 1 (thread-1): no data on rank 1\nrank 2 (thread-2): no data on rank 2")
                XCTAssertEqual(f.own != nil, r != 0)
            }
        }
        XCTAssertEqual(try ThreadGroup.run(2) { comm in try comm.agree { comm.rank } }.map { try $0.get() }, [0, 1])
    }

    func testRanksThatDisagreeAreNamedWithTheField() throws {
        let results = ThreadGroup.run(3) { comm in
            var c = TrainConfig()
            c.batchSize = comm.rank == 2 ? 4 : 8
            let json = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
            try RunAgreement.check(comm, claim: RunAgreement.Claim(config: json, data: ["train": comm.rank == 1 ? 2 : 1],
                                                                   firstBatch: 5, parameters: 10))
        }
        for result in results {
            XCTAssertThrowsError(try result.get()) { e in
                let text = "\(e)"
                XCTAssertTrue(text.contains("rank 1 (thread-1) differs from rank 0 (thread-0) in the train data"), text)
                XCTAssertTrue(text.contains("rank 2 (thread-2) differs from rank 0 (thread-0) in config batchSize (4 vs rank 0's 8)"), text)
            }
        }
        let same = ThreadGroup.run(2) { comm in
            try RunAgreement.check(comm, claim: RunAgreement.Claim(config: "{}", data: [:], firstBatch: 1, parameters: 1))
        }
        for r in same { XCTAssertNoThrow(try r.get()) }
    }

    /// A ZeRO-1 checkpoint of 2 ranks: rank 0 writes both shard files (receiving rank 1's); it
    /// reads back whole, and 3 ranks (sharded or not) each receive exactly their range from it.
    func testOptimizerShardsSaveAndRedistributeAcrossWorldSizes() throws {
        let checkpoints = RunCheckpoints(runDir: tmp)
        let state = TrainerState(step: 7, dataCursor: 7, dropoutSeed: 1, dropoutOffset: 99, tokens: 70, elapsed: 1)
        let saved = ThreadGroup.run(2) { comm -> Int in
            let model = try GLMModel(config: Self.tiny, seed: 1)
            var o = ParallelOptions()
            o.zero = 1
            let dp = DataParallel(comm: comm, store: model.store, options: o)
            let opt = AdamW(store: model.store, shard: dp.optimizerShard)
            for k in 0..<opt.shard.count { opt.m.floats[k] = Float(opt.shard.lowerBound + k); opt.v.floats[k] = 2 * Float(opt.shard.lowerBound + k) }
            try dp.saveCheckpoint(checkpoints, model: model, optimizer: opt, state: state, tokenizerFiles: [], keep: 2)
            return model.store.totalCount
        }
        let total = try saved[0].get()
        let dir = tmp.appendingPathComponent("checkpoints/step-7")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("optimizer") }.sorted()
        XCTAssertEqual(files, [OptimizerCheckpoint.shardFile(0, of: 2), OptimizerCheckpoint.shardFile(1, of: 2)])
        let reader = try OptimizerCheckpoint.Reader(dir: dir, total: total)
        var m = [Float](repeating: -1, count: total), v = m
        reader.read(0..<total, m: &m, v: &v)
        XCTAssertEqual(m, (0..<total).map(Float.init))
        XCTAssertEqual(v, (0..<total).map { 2 * Float($0) })

        for zero in [1, 0] {
            let restored = ThreadGroup.run(3) { comm -> (Range<Int>, [Float], [Float], TrainerState?) in
                let model = try GLMModel(config: Self.tiny, seed: UInt64(5 + comm.rank))   // different starts: rank 0's wins
                var o = ParallelOptions()
                o.zero = zero
                let dp = DataParallel(comm: comm, store: model.store, options: o)
                let opt = AdamW(store: model.store, shard: dp.optimizerShard)
                var mine: TrainerState?
                if comm.isRoot { mine = try checkpoints.restore(dir, model: model, optimizer: opt) }
                let st = try dp.distributeStart(from: comm.isRoot ? dir : nil, restored: mine, model: model, optimizer: opt)
                try dp.checkReplicasAgree(model.store, step: 7)
                return (opt.shard, opt.m.toArray(), opt.v.toArray(), st)
            }
            for (r, result) in restored.enumerated() {
                let (shard, mm, vv, st) = try result.get()
                XCTAssertEqual(shard.count, zero == 1 ? ShardLayout(total: total, parts: 3).shards[r].count : total)
                XCTAssertEqual(mm, shard.map(Float.init), "rank \(r) zero \(zero)")
                XCTAssertEqual(vv, shard.map { 2 * Float($0) })
                XCTAssertEqual(st, state)
            }
        }

        // A missing shard is named.
        try FileManager.default.removeItem(at: dir.appendingPathComponent(OptimizerCheckpoint.shardFile(1, of: 2)))
        XCTAssertThrowsError(try OptimizerCheckpoint.Reader(dir: dir, total: total)) {
            XCTAssertTrue("\($0)".contains("optimizer-shard-00001-of-00002.safetensors is missing"), "\($0)")
        }
    }

    func testLocalCommunicatorIsTheIdentity() throws {
        let c = LocalCommunicator()
        var x: [Float] = [1, 2, 3]
        try x.withUnsafeMutableBufferPointer { try c.allReduceSum($0.baseAddress!, count: 3) }
        try x.withUnsafeMutableBufferPointer { try c.reduceScatterSum($0.baseAddress!, counts: [3]) }
        XCTAssertEqual(x, [1, 2, 3])
        XCTAssertEqual(try c.allGather(bytes: [7]), [[7]])
        XCTAssertEqual(try c.broadcast([1, 2]), [1, 2])
        struct E: Error {}
        XCTAssertThrowsError(try c.agree { throw E() }) { XCTAssertTrue($0 is E, "alone, errors pass through unchanged") }
    }
}
