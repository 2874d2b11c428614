import Foundation
import GLMTokenizers

/// Collator throughput on one core, for `glm bench`.
///
/// Feeds the collator synthetic packed samples (random ids with a sentence end every ~20 tokens and a
/// few documents per sample, like real packed text) and times only `collate`. Training consumes about
/// 10³ tokens/s on a 2-core CPU, so the collator must stay orders of magnitude above that.
public enum CollatorBenchmark {
    public struct Result: Sendable, CustomStringConvertible {
        public var config: CollatorConfig
        public var seqLength: Int
        public var batchSize: Int
        public var batches: Int
        public var seconds: Double
        /// Packed input tokens collated per second.
        public var tokensPerSecond: Double
        public var description: String {
            String(format: "collator: %.3g tokens/s (%d batches of %d×%d in %.2f s, one thread)",
                   tokensPerSecond, batches, batchSize, seqLength, seconds)
        }
    }

    /// Runs the collator for at least `minSeconds` (and `minBatches`) on the calling thread.
    public static func run(config: CollatorConfig = .glm10B, seqLength: Int = 512, batchSize: Int = 16,
                           minBatches: Int = 20, minSeconds: Double = 1.0) throws -> Result {
        let vocab = 30000
        var commands = CommandTokens(pad: 0, eos: 0, cls: 101, sep: 102, mask: 103, unk: 100, sop: vocab, eop: vocab + 1,
                                     gMask: vocab + 2, sMask: vocab + 3)
        commands.dBlock = vocab + 4
        let ends = SentenceEnds(ids: [1012, 1029, 999], size: vocab + 5)  // ".", "?", "!" in the BERT vocab
        let collator = try BlockCollator(config: config, commands: commands, sentenceEnds: ends, seqLength: seqLength)
        var gen = GLMRandom(seed: 1, stream: .benchmark, index: 0)
        var pool = [PackedSample]()
        for _ in 0..<(batchSize * 4) {
            var t: [Int32] = [101], l: [UInt8] = [0]
            while t.count < seqLength {
                let docLen = 50 + gen.int(below: 400)
                for i in 0..<docLen where t.count < seqLength - 1 {
                    t.append(i % 20 == 19 ? 1012 : Int32(2000 + gen.int(below: 20000))); l.append(1)
                }
                t.append(0); l.append(1)
                if t.count < seqLength - 2 { t.append(101); l.append(0) }
            }
            pool.append(PackedSample(tokens: Array(t.prefix(seqLength)), lossMask: Array(l.prefix(seqLength))))
        }
        var rng = GLMRandom(seed: 2, stream: .benchmark, index: 1)
        var batches = 0, tokens = 0, sink = 0
        let t0 = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        while batches < minBatches || elapsed < minSeconds {
            let start = (batches * batchSize) % (pool.count - batchSize + 1)
            let samples = Array(pool[start..<(start + batchSize)])
            let b = collator.collate(samples, rng: &rng)
            sink &+= b.seqLength
            tokens += samples.reduce(0) { $0 + $1.count }
            batches += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        precondition(sink > 0)
        return Result(config: config, seqLength: seqLength, batchSize: batchSize, batches: batches,
                      seconds: elapsed, tokensPerSecond: Double(tokens) / elapsed)
    }

    /// End-to-end data throughput on the calling thread: packing from a shard folder (docs/official-glm.md §4.1) plus
    /// collation, i.e. what one ``BatchLoader`` thread can deliver.
    public static func runPipeline(dataset: ShardDataset, config: CollatorConfig = .glm10B, seqLength: Int = 512,
                                   batchSize: Int = 16, minBatches: Int = 10, minSeconds: Double = 1.0,
                                   seed: UInt64 = 1) throws -> Result {
        let collator = try BlockCollator(config: config, dataset: dataset, seqLength: seqLength)
        var batches = 0, tokens = 0
        let t0 = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        while batches < minBatches || elapsed < minSeconds {
            let b = BatchLoader.makeBatch(batches, dataset: dataset, collator: collator, batchSize: batchSize, seed: seed)
            // Tokens the model will process: every row's Part A + Part B, padding excluded.
            for r in 0..<b.batchSize { tokens += b.length(row: r) }
            batches += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        return Result(config: config, seqLength: seqLength, batchSize: batchSize, batches: batches,
                      seconds: elapsed, tokensPerSecond: Double(tokens) / elapsed)
    }
}
