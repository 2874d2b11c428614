import GLMTokenizers

extension ClozeSample {
    /// The sample as one JSON object (the `glm cloze` line): `guid`, `label`, `kind`, then per choice
    /// `input_ids`, `position_ids` (`[positions, blocks]`), `sep`, `target_ids`, `loss_mask`, and for
    /// single-token samples `candidate_ids`; arrays padded to the sequence length as the official
    /// `build_input_from_ids` pads them.
    public func jsonLine() -> String {
        var s = "{\"guid\": \(JSONValue.quote(guid)), \"label\": \(label), \"kind\": \"\(kind.rawValue)\""
        func ints(_ a: [Int]) -> String { "[" + a.map(String.init).joined(separator: ", ") + "]" }
        func rows(_ f: (ClozeSequence) -> String) -> String { "[" + choices.map(f).joined(separator: ", ") + "]" }
        s += ", \"input_ids\": " + rows { ints($0.inputIds) }
        s += ", \"position_ids\": " + rows { "[" + ints($0.positions) + ", " + ints($0.blocks) + "]" }
        s += ", \"sep\": " + ints(choices.map(\.sep))
        s += ", \"target_ids\": " + rows { ints($0.targetIds) }
        s += ", \"loss_mask\": " + rows { ints($0.lossMask) }
        if let candidateIds { s += ", \"candidate_ids\": " + ints(candidateIds) }
        return s + "}"
    }

    /// A readable view for a person: Part A as text, then each choice's Part B with its targets.
    public func describe(tokenizer: GLMTokenizer, labels: [String]) -> String {
        var out = "── \(guid)  label \(label)\(labels.indices.contains(label) ? " (\(labels[label]))" : "")  \(kind.rawValue)-token"
        out += truncated ? "  (cut to fit)\n" : "\n"
        guard let first = choices.first else { return out }
        out += "Part A (\(first.sep) tokens, mask at \(first.positions[first.sep])): \(tokenizer.decode(Array(first.inputIds[..<first.sep])))\n"
        if let candidateIds {
            let words = candidateIds.enumerated().map { k, id in
                "\(labels.indices.contains(k) ? labels[k] : String(k)) → \(tokenizer.tokenString(id) ?? "?") (\(id))"
            }
            out += "Scored at sop (position \(first.sep)) over: \(words.joined(separator: ", "))\n"
        }
        for (c, q) in choices.enumerated() where kind == .multi {
            let targets = (q.sep..<q.length).map { q.targetIds[$0] }
            let partA = c > 0 && q.inputIds[..<q.sep] != first.inputIds[..<first.sep]
                ? "  Part A: \(tokenizer.decode(Array(q.inputIds[..<q.sep])))\n" : ""
            out += "choice \(c)\(c == label ? " *" : ""): \(tokenizer.decode(targets))   targets \(targets)\n" + partA
        }
        return out
    }
}
