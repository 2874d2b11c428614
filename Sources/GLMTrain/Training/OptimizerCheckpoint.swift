import Foundation
import GLMNN
import GLMTensor

/// The AdamW moments in a checkpoint folder, in either layout:
/// - `optimizer.safetensors`: `exp_avg` and `exp_avg_sq` over the whole store (`[totalCount]`),
///   written by a single process or a data-parallel run without ZeRO;
/// - `optimizer-shard-0000r-of-0000n.safetensors`, one per rank of a ZeRO-1 run: the same two
///   tensors over that rank's shard, with `first`, `count`, `total`, `step` in the metadata.
///
/// AdamW is elementwise, so any range of the moments can be read from either layout: a run
/// resumes at the world size and ZeRO setting of its choice, and a resume at the same world size
/// gets back exactly the shards it saved.
public enum OptimizerCheckpoint {
    public static let wholeFile = "optimizer.safetensors"

    /// The file of shard `index` of `count`.
    public static func shardFile(_ index: Int, of count: Int) -> String {
        String(format: "optimizer-shard-%05d-of-%05d.safetensors", index, count)
    }

    /// Writes moments `m`, `v` (`range.count` floats each, elements `range` of a store of `total`)
    /// into `dir`: as ``wholeFile`` when they cover the store, else as shard `index` of `shards`.
    public static func write(m: UnsafePointer<Float>, v: UnsafePointer<Float>, range: Range<Int>, total: Int, step: Int,
                             shard index: Int, of shards: Int, into dir: URL) throws {
        let n = range.count
        let tensors = [
            "exp_avg": TensorData(dtype: .f32, shape: [n], floats: Array(UnsafeBufferPointer(start: m, count: n))),
            "exp_avg_sq": TensorData(dtype: .f32, shape: [n], floats: Array(UnsafeBufferPointer(start: v, count: n))),
        ]
        if range == 0..<total {
            try SafeTensors.write(tensors, to: dir.appendingPathComponent(wholeFile), metadata: ["step": "\(step)"])
        } else {
            try SafeTensors.write(tensors, to: dir.appendingPathComponent(shardFile(index, of: shards)), metadata: [
                "step": "\(step)", "first": "\(range.lowerBound)", "count": "\(n)", "total": "\(total)",
                "shard": "\(index)", "shards": "\(shards)",
            ])
        }
    }

    /// The moments of a checkpoint folder, readable by range.
    public final class Reader {
        let dir: URL
        let total: Int
        /// (range, m, v) of each file, whole or shard.
        private var pieces: [(range: Range<Int>, m: TensorData, v: TensorData)] = []

        /// Opens the moments of a store of `total` elements in `dir`; throws naming the file when
        /// they are missing, incomplete or of another size.
        public init(dir: URL, total: Int) throws {
            self.dir = dir
            self.total = total
            let fm = FileManager.default
            let whole = dir.appendingPathComponent(wholeFile)
            if fm.fileExists(atPath: whole.path) {
                let (m, v) = try Self.moments(whole)
                guard m.count == total, v.count == total else {
                    throw TrainError.checkpoint("\(whole.path) holds moments of \(m.count) parameters, the model has \(total)")
                }
                pieces = [(0..<total, m, v)]
                try checkFinite(file: whole)
                return
            }
            let names = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix("optimizer-shard-") }
            var counts = Set<Int>()
            var found: [Int: String] = [:]
            for n in names {
                let parts = n.replacingOccurrences(of: "optimizer-shard-", with: "").replacingOccurrences(of: ".safetensors", with: "")
                    .components(separatedBy: "-of-")
                guard parts.count == 2, let i = Int(parts[0]), let c = Int(parts[1]), c > 0, i >= 0, i < c else {
                    throw TrainError.checkpoint("\(dir.path)/\(n): not a shard file name (optimizer-shard-<i>-of-<n>.safetensors)")
                }
                counts.insert(c)
                found[i] = n
            }
            guard let shards = counts.first else {
                throw TrainError.checkpoint("\(dir.path) holds no optimizer state (\(wholeFile) or optimizer-shard-*-of-*.safetensors)")
            }
            guard counts.count == 1 else {
                throw TrainError.checkpoint("\(dir.path) mixes optimizer shards of \(counts.sorted().map(String.init).joined(separator: " and ")) ranks")
            }
            let missing = (0..<shards).filter { found[$0] == nil }
            guard missing.isEmpty else {
                throw TrainError.checkpoint("\(dir.path) was saved by \(shards) ranks with ZeRO-1, but optimizer shard\(missing.count > 1 ? "s" : "") \(missing.map { shardFile($0, of: shards) }.joined(separator: ", ")) \(missing.count > 1 ? "are" : "is") missing: this checkpoint cannot be resumed (use an older one)")
            }
            var next = 0
            for i in 0..<shards {
                let url = dir.appendingPathComponent(shardFile(i, of: shards))
                let (tensors, meta) = try SafeTensors.readWithMetadata(url)
                guard let m = tensors["exp_avg"], let v = tensors["exp_avg_sq"], m.dtype == .f32, v.dtype == .f32,
                      let first = meta["first"].flatMap(Int.init), let count = meta["count"].flatMap(Int.init),
                      let t = meta["total"].flatMap(Int.init) else {
                    throw TrainError.checkpoint("\(url.path): not an optimizer shard (exp_avg, exp_avg_sq, first, count, total)")
                }
                guard t == total else { throw TrainError.checkpoint("\(url.path) is a shard of \(t) parameters, the model has \(total)") }
                guard first == next, count >= 0, m.count == count, v.count == count else {
                    throw TrainError.checkpoint("\(url.path) covers \(first)..<\(first + count) (\(m.count) values), expected to start at \(next)")
                }
                pieces.append((first..<(first + count), m, v))
                next = first + count
            }
            guard next == total else { throw TrainError.checkpoint("the optimizer shards in \(dir.path) end at \(next), not at \(total)") }
            try checkFinite(file: nil)
        }

        /// Throws naming the file and element of the first NaN or infinite moment or negative
        /// second moment: every rank's shard is checked, not only the reader's own.
        private func checkFinite(file: URL?) throws {
            for (k, p) in pieces.enumerated() {
                let name = file?.lastPathComponent ?? (pieces.count == 1 ? wholeFile : shardFile(k, of: pieces.count))
                for (key, t) in [("exp_avg", p.m), ("exp_avg_sq", p.v)] {
                    let bad: (Int, Float)? = t.withUnsafeBytes { raw in
                        let f = raw.bindMemory(to: Float.self)
                        for i in 0..<f.count where !f[i].isFinite || (key == "exp_avg_sq" && f[i] < 0) { return (i, f[i]) }
                        return nil
                    }
                    if let (i, x) = bad {
                        throw TrainError.nonFinite("\(dir.appendingPathComponent(name).path): \(key)[\(i)] is \(x)")
                    }
                }
            }
        }

        static func moments(_ url: URL) throws -> (TensorData, TensorData) {
            let t = try SafeTensors.read(url)
            guard let m = t["exp_avg"], let v = t["exp_avg_sq"], m.dtype == .f32, v.dtype == .f32 else {
                throw TrainError.checkpoint("\(url.path) lacks f32 exp_avg and exp_avg_sq")
            }
            return (m, v)
        }

        /// Copies elements `range` of both moments into `m` and `v` (`range.count` floats each).
        public func read(_ range: Range<Int>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>) {
            precondition(range.lowerBound >= 0 && range.upperBound <= total, "range \(range) outside \(total)")
            for p in pieces {
                let lo = Swift.max(p.range.lowerBound, range.lowerBound), hi = Swift.min(p.range.upperBound, range.upperBound)
                guard lo < hi else { continue }
                let src = (lo - p.range.lowerBound) * 4, n = (hi - lo) * 4
                p.m.withUnsafeBytes { UnsafeMutableRawPointer(m + (lo - range.lowerBound)).copyMemory(from: $0.baseAddress! + src, byteCount: n) }
                p.v.withUnsafeBytes { UnsafeMutableRawPointer(v + (lo - range.lowerBound)).copyMemory(from: $0.baseAddress! + src, byteCount: n) }
            }
        }

        /// Fills `optimizer`'s moments (its shard) from the checkpoint.
        public func restore(into optimizer: AdamW) {
            read(optimizer.shard, m: optimizer.m.floats, v: optimizer.v.floats)
        }
    }
}
