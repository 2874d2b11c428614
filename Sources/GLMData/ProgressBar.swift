import Foundation

/// The one progress bar of swift-glm (`glm prepare`, training, evaluation): on a terminal a line
/// on standard error redrawn in place; otherwise (a log file) a plain line every 2 % and at the
/// end, so logs stay readable.
public final class ProgressBar {
    private let label: String
    private let width: Int
    private let isTTY = isatty(STDERR_FILENO) == 1
    private var lastDrawn = -1

    public init(label: String = "", width: Int = 24) { self.label = label; self.width = width }

    /// Shows `done` of `total` with a free-form suffix (loss, speed, ETA…); skips redundant redraws.
    public func update(done: Int, total: Int, suffix: String = "") {
        let fraction = total > 0 ? min(1, max(0, Double(done) / Double(total))) : 1
        let permille = Int(fraction * 1000)
        let due = isTTY ? permille != lastDrawn : (permille / 20 != lastDrawn / 20 || done == total)
        guard due, permille != lastDrawn || done == total else { return }
        lastDrawn = permille
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let head = label.isEmpty ? "" : label + " "
        let line = "\(head)\(bar) \(done)/\(total) \(suffix)"
        FileHandle.standardError.write(Data((isTTY ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    /// Ends the bar's line (on a terminal).
    public func finish() {
        if isTTY && lastDrawn >= 0 { FileHandle.standardError.write(Data("\n".utf8)) }
        lastDrawn = -1
    }

    /// `1:02:03` or `4:05`; `--:--` when unknown.
    public static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}
