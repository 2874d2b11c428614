import GLMTokenizers

/// Writing batches for people and for other tools (`glm batches`).
public enum BatchFormat {
    /// One JSON object per row of `batch`, with the official key names: `input_ids`, `position_ids`
    /// (`[2][S]`), `attention_mask` (the row's sep), `targets`, `loss_mask`, `mode`; plus `batch` and
    /// `row` so lines can be traced back. Rows keep the batch's right padding.
    public static func jsonLines(_ batch: Batch, batchIndex: Int) -> [String] {
        func list<T>(_ xs: ArraySlice<T>, _ f: (T) -> String) -> String { "[" + xs.map(f).joined(separator: ",") + "]" }
        var out = [String]()
        for r in 0..<batch.batchSize {
            var s = "{\"batch\":\(batchIndex),\"row\":\(r),\"mode\":\"\(batch.mode.rawValue)\""
            s += ",\"input_ids\":" + list(batch.inputs(row: r)) { String($0) }
            s += ",\"position_ids\":[" + list(batch.positions(row: r)) { String($0) } + "," + list(batch.blockPositions(row: r)) { String($0) } + "]"
            s += ",\"attention_mask\":\(batch.seps[r])"
            s += ",\"targets\":" + list(batch.targets(row: r)) { String($0) }
            s += ",\"loss_mask\":" + list(batch.loss(row: r)) { $0 > 0 ? "1" : "0" }
            s += "}"
            out.append(s)
        }
        return out
    }

    /// One span of Part B as read back from a row: where its mask sits in Part A and what it holds.
    public struct Span: Sendable, Equatable {
        /// Part-A index of the span's mask token (its position id).
        public var maskPosition: Int
        /// Column of the span's `[sop]` in the row.
        public var start: Int
        /// The span's tokens: its targets without a trailing eop.
        public var tokens: [Int32]
        /// Whether the targets end with eop (false only in document mode's suffix form).
        public var endsWithEop: Bool
    }

    /// The spans of row `r`, in Part B order (split where the block position restarts at 1).
    public static func spans(_ batch: Batch, row r: Int, eop: Int32) -> [Span] {
        let n = batch.length(row: r), sep = Int(batch.seps[r])
        let tg = Array(batch.targets(row: r)), bp = Array(batch.blockPositions(row: r)), ps = Array(batch.positions(row: r))
        var out = [Span]()
        var i = sep
        while i < n {
            var j = i + 1
            while j < n && bp[j] != 1 { j += 1 }
            var toks = Array(tg[i..<j])
            let hasEop = toks.last == eop
            if hasEop { toks.removeLast() }
            out.append(Span(maskPosition: Int(ps[i]), start: i, tokens: toks, endsWithEop: hasEop))
            i = j
        }
        return out
    }

    /// A readable view of row `r`: Part A text with its mask tokens, then each span with its mask position.
    public static func describe(_ batch: Batch, row r: Int, commands: CommandTokens,
                                decode: ([Int]) -> String) -> String {
        var names: [Int32: String] = [Int32(commands.mask): "[MASK]", Int32(commands.cls): "[CLS]",
                                      Int32(commands.eos): "[eos]"]
        if let g = commands.gMask { names[Int32(g)] = "[gMASK]" }
        if let s = commands.sMask { names[Int32(s)] = "[sMASK]" }
        if let d = commands.dBlock { names[Int32(d)] = "[dBLOCK]" }
        func render(_ ids: [Int32]) -> String {
            var parts = [String](), run = [Int]()
            func flush() { if !run.isEmpty { parts.append(decode(run)); run.removeAll() } }
            for t in ids {
                if let name = names[t] { flush(); parts.append(name) } else { run.append(Int(t)) }
            }
            flush()
            return parts.joined(separator: " ")
        }
        let sep = Int(batch.seps[r])
        let partA = Array(batch.inputs(row: r).prefix(sep))
        var s = "mode \(batch.mode.rawValue), sep \(sep), length \(batch.length(row: r))\n"
        s += "Part A: " + render(partA) + "\n"
        for (k, span) in spans(batch, row: r, eop: Int32(commands.eop)).enumerated() {
            let mark = partA.indices.contains(span.maskPosition) ? (names[partA[span.maskPosition]] ?? "?") : "?"
            s += "  span \(k + 1) at \(mark)@\(span.maskPosition) (\(span.tokens.count) tokens\(span.endsWithEop ? "" : ", no eop")): "
            s += render(span.tokens) + "\n"
        }
        return s
    }
}
