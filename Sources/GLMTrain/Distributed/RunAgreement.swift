import Foundation
import GLMDistributed

/// The check every rank of a data-parallel run makes before training: all ranks must train the
/// same resolved config on the same data, or their gradients would be summed across different
/// problems. Each rank contributes its config (JSON), a digest of each dataset's manifest, a
/// digest of the first global batch it would train on, and its parameter count; every rank
/// compares them all with rank 0's and, on any difference, throws the same error naming each
/// differing rank, its host, and what differs (config fields with both values).
public enum RunAgreement {
    /// What one rank brings to the comparison.
    public struct Claim: Codable, Equatable {
        /// The resolved config as JSON (sorted keys).
        public var config: String
        /// Digest of each dataset's manifest, by name ("train", "valid").
        public var data: [String: UInt64]
        /// Digest of the first global batch this rank would train on.
        public var firstBatch: UInt64
        public var parameters: Int

        public init(config: String, data: [String: UInt64], firstBatch: UInt64, parameters: Int) {
            self.config = config; self.data = data; self.firstBatch = firstBatch; self.parameters = parameters
        }
    }

    /// Gathers every rank's claim and throws ``DistributedError/disagreement(_:)`` listing every
    /// rank that differs from rank 0.
    public static func check(_ comm: Communicator, claim: Claim) throws {
        guard comm.size > 1 else { return }
        let mine = Array(try JSONEncoder().encode(claim))
        let all = try comm.allGather(bytes: mine)
        let hosts = try comm.hostNames()
        let decoder = JSONDecoder()
        let claims = try all.enumerated().map { r, bytes in
            do { return try decoder.decode(Claim.self, from: Data(bytes)) } catch {
                throw DistributedError.disagreement("rank \(r) (\(hosts[r])) sent an unreadable run description (another glm version?)")
            }
        }
        let root = claims[0]
        var lines: [String] = []
        for (r, c) in claims.enumerated().dropFirst() where c != root {
            var what: [String] = []
            if c.config != root.config, let d = configDifference(c.config, root.config) { what.append(d) }
            for name in Set(c.data.keys).union(root.data.keys).sorted() where c.data[name] != root.data[name] {
                what.append("the \(name) data (its manifest differs)")
            }
            if c.firstBatch != root.firstBatch, c.data == root.data { what.append("the first batch (same manifest, other token files?)") }
            if c.parameters != root.parameters { what.append("the parameter count (\(c.parameters) vs \(root.parameters))") }
            if !what.isEmpty { lines.append("rank \(r) (\(hosts[r])) differs from rank 0 (\(hosts[0])) in " + what.joined(separator: "; ")) }
        }
        guard lines.isEmpty else {
            throw DistributedError.disagreement(lines.joined(separator: "\n") + "\nevery rank must be started with the same flags and data")
        }
    }

    /// "config a (x vs rank 0's y), b (…)" from two configs' JSON, compared field by field
    /// (key order does not matter); nil when they hold the same values.
    static func configDifference(_ a: String, _ b: String) -> String? {
        guard let x = try? JSONSerialization.jsonObject(with: Data(a.utf8)) as? [String: Any],
              let y = try? JSONSerialization.jsonObject(with: Data(b.utf8)) as? [String: Any] else { return "the config (unreadable)" }
        func text(_ v: Any?) -> String {
            guard let v else { return "absent" }
            if let d = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed]) {
                return String(decoding: d, as: UTF8.self)
            }
            return "\(v)"
        }
        let fields = Set(x.keys).union(y.keys).sorted().filter { text(x[$0]) != text(y[$0]) }
        guard !fields.isEmpty else { return nil }
        return "config " + fields.map { "\($0) (\(text(x[$0])) vs rank 0's \(text(y[$0])))" }.joined(separator: ", ")
    }
}
