import Foundation
import GLMSystem

/// `metrics.jsonl`: one JSON object per line (training steps and evaluations).
public final class MetricsLog {
    public let url: URL
    private let handle: FileHandle

    /// Opens `url` for appending; with `truncateAfter`, lines of later steps (from a run that
    /// died after its last checkpoint) are dropped first, so a resumed run logs each step once.
    public init(url: URL, truncateAfter step: Int? = nil) throws {
        self.url = url
        let fm = FileManager.default
        if let step, let text = try? String(contentsOf: url, encoding: .utf8) {
            let kept = text.split(separator: "\n").filter { line in
                guard let d = line.data(using: .utf8),
                      let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
                      let s = o["step"] as? Int else { return false }
                return s <= step
            }
            try (kept.map { $0 + "\n" }.joined()).write(to: url, atomically: true, encoding: .utf8)
        } else if !fm.fileExists(atPath: url.path) || step == nil {
            guard fm.createFile(atPath: url.path, contents: nil) else { throw TrainError.io("\(url.path): cannot create") }
        }
        guard let h = FileHandle(forWritingAtPath: url.path) else { throw TrainError.io("\(url.path): cannot open for writing") }
        handle = h
        handle.seekToEndOfFile()
    }

    /// Appends one object; keys keep the given order.
    public func write(_ fields: [(String, Any)]) {
        let body = fields.map { k, v -> String in
            let value: String
            switch v {
            case let f as Float: value = f.isFinite ? "\(f)" : "null"
            case let d as Double: value = d.isFinite ? "\(d)" : "null"
            case let s as String: value = "\"\(s)\""
            default: value = "\(v)"
            }
            return "\"\(k)\": \(value)"
        }.joined(separator: ", ")
        handle.write(Data(("{" + body + "}\n").utf8))
    }

    deinit { try? handle.close() }

    /// Every parsed line of a metrics file.
    public static func read(_ url: URL) -> [[String: Any]] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

/// TensorBoard event files (TFRecord framing around hand-encoded `Event` protos holding scalar
/// summaries), readable by `tensorboard --logdir <run>/tensorboard`.
public final class TensorBoardWriter {
    private let handle: FileHandle

    public init(folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(ProcessInfo.processInfo.hostName).\(getpid())"
        let url = folder.appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
              let h = FileHandle(forWritingAtPath: url.path) else { throw TrainError.io("\(url.path): cannot create") }
        handle = h
        var version = ProtoWriter()
        version.double(1, Date().timeIntervalSince1970)
        version.string(3, "brain.Event:2")
        record(version.bytes)
    }

    /// One scalar `tag` at `step`.
    public func scalar(_ tag: String, _ value: Float, step: Int) {
        var v = ProtoWriter(); v.string(1, tag); v.float(2, value)
        var summary = ProtoWriter(); summary.message(1, v.bytes)
        var event = ProtoWriter()
        event.double(1, Date().timeIntervalSince1970)
        event.int(2, step)
        event.message(5, summary.bytes)
        record(event.bytes)
    }

    public func flush() { try? handle.synchronize() }

    deinit { try? handle.close() }

    private func record(_ data: [UInt8]) {
        var out: [UInt8] = []
        let len = UInt64(data.count)
        let lenBytes = (0..<8).map { UInt8(truncatingIfNeeded: len >> (8 * $0)) }
        out += lenBytes
        out += le32(CRC32C.masked(lenBytes))
        out += data
        out += le32(CRC32C.masked(data))
        handle.write(Data(out))
    }

    private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

/// The loss curve as an SVG line chart (training loss per step, evaluation loss as points).
public enum LossCurve {
    public static func svg(train: [(Int, Double)], eval: [(Int, Double)], title: String) -> String {
        let w = 800.0, h = 480.0, pad = 60.0
        let all = train.map(\.1) + eval.map(\.1)
        guard let lo0 = all.min(), let hi0 = all.max(), let maxStep = (train.map(\.0) + eval.map(\.0)).max() else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\"><text x=\"20\" y=\"40\">no data</text></svg>"
        }
        let lo = lo0 - 0.05 * max(hi0 - lo0, 1e-6), hi = hi0 + 0.05 * max(hi0 - lo0, 1e-6)
        func x(_ s: Int) -> Double { pad + (w - 2 * pad) * Double(s) / Double(max(maxStep, 1)) }
        func y(_ v: Double) -> Double { h - pad - (h - 2 * pad) * (v - lo) / (hi - lo) }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(w / 2)\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">\(title)</text>\n"
        out += "<line x1=\"\(pad)\" y1=\"\(h - pad)\" x2=\"\(w - pad)\" y2=\"\(h - pad)\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(pad)\" y1=\"\(pad)\" x2=\"\(pad)\" y2=\"\(h - pad)\" stroke=\"black\"/>\n"
        for i in 0...4 {
            let v = lo + (hi - lo) * Double(i) / 4
            out += "<text x=\"\(pad - 6)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(String(format: "%.2f", v))</text>\n"
            let s = maxStep * i / 4
            out += "<text x=\"\(x(s))\" y=\"\(h - pad + 18)\" text-anchor=\"middle\">\(s)</text>\n"
        }
        out += "<text x=\"\(w / 2)\" y=\"\(h - 12)\" text-anchor=\"middle\">step</text>\n"
        out += "<text x=\"16\" y=\"\(h / 2)\" transform=\"rotate(-90 16 \(h / 2))\" text-anchor=\"middle\">loss (nats)</text>\n"
        // Thin the polyline to at most ~2000 points; the picture cannot show more.
        let stride = max(1, train.count / 2000)
        let pts = Swift.stride(from: 0, to: train.count, by: stride).map { String(format: "%.1f,%.1f", x(train[$0].0), y(train[$0].1)) }
        out += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.2\" points=\"\(pts.joined(separator: " "))\"/>\n"
        for (s, v) in eval {
            out += "<circle cx=\"\(String(format: "%.1f", x(s)))\" cy=\"\(String(format: "%.1f", y(v)))\" r=\"4\" fill=\"#d62728\"/>\n"
        }
        out += "<text x=\"\(w - pad - 150)\" y=\"\(pad)\" fill=\"#1f77b4\">— train loss (Part B)</text>\n"
        out += "<text x=\"\(w - pad - 150)\" y=\"\(pad + 16)\" fill=\"#d62728\">● held-out loss</text>\n"
        return out + "</svg>\n"
    }
}

