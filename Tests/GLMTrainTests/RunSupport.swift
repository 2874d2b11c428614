import Foundation
import XCTest

/// What the end-to-end run tests share: a scratch folder, the built `glm` executable, launching
/// it, reading the losses it logged, and waiting for a condition.
class RunTestCase: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("glm-run-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    /// The `glm` executable built next to this test bundle.
    func glmBinary() throws -> URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let c = dir.appendingPathComponent("glm")
            if FileManager.default.isExecutableFile(atPath: c.path) { return c }
            dir.deleteLastPathComponent()
        }
        let fallback = Self.repo.appendingPathComponent(".build/release/glm")
        guard FileManager.default.isExecutableFile(atPath: fallback.path) else {
            throw XCTSkip("glm executable not built (run swift build -c release first)")
        }
        return fallback
    }

    func launch(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = try glmBinary()
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = try FileHandle(forWritingTo: { () -> URL in
            let u = tmp.appendingPathComponent("stderr-\(UUID().uuidString.prefix(6)).txt")
            FileManager.default.createFile(atPath: u.path, contents: nil)
            return u
        }())
        try p.run()
        return p
    }

    /// Training losses per step as logged (the JSON text, so equality is bit for bit).
    func losses(_ run: URL) throws -> [Int: String] {
        let text = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        var out: [Int: String] = [:]
        for line in text.split(separator: "\n") where line.contains("\"loss\"") {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let step = obj["step"] as! Int
            XCTAssertNil(out[step], "step \(step) logged twice")
            let loss = line.components(separatedBy: "\"loss\": ")[1].split(separator: ",")[0]
            out[step] = String(loss)
        }
        return out
    }

    func waitFor(_ timeout: Double, _ cond: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if cond() { return true }; usleep(20_000) }
        return cond()
    }
}
