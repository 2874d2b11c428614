import GLMSystem
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

    /// A sample read back from its `glm cloze` JSON object (`field` says where it came from).
    public init(json field: TaskField) throws {
        func ints(_ f: TaskField) throws -> [Int] { try f.array().map { try $0.int() } }
        func rows(_ key: String) throws -> [[Int]] { try field.at(key).array().map(ints) }
        guid = try field.at("guid").string()
        label = try field.at("label").int()
        let k = try field.at("kind").string()
        guard let kind = ClozeKind(rawValue: k) else { throw field.error("\"kind\" must be single or multi, got \(JSONValue.quote(k))") }
        self.kind = kind
        let ids = try rows("input_ids"), targets = try rows("target_ids"), loss = try rows("loss_mask")
        let seps = try ints(try field.at("sep"))
        let pos = try field.at("position_ids").array().map { try $0.array().map(ints) }
        guard !ids.isEmpty, [targets.count, loss.count, seps.count, pos.count].allSatisfy({ $0 == ids.count }) else {
            throw field.error("input_ids, position_ids, sep, target_ids and loss_mask must list the same choices")
        }
        choices = try ids.indices.map { c in
            let n = ids[c].count
            guard n > 0, targets[c].count == n, loss[c].count == n, pos[c].count == 2, pos[c].allSatisfy({ $0.count == n }),
                  seps[c] > 0, seps[c] < n else {
                throw field.error("choice \(c): the arrays must have one length and sep must fall inside it")
            }
            let length = (loss[c].lastIndex { $0 != 0 } ?? seps[c]) + 1
            return ClozeSequence(inputIds: ids[c], positions: pos[c][0], blocks: pos[c][1], sep: seps[c], targetIds: targets[c],
                                 lossMask: loss[c], length: length)
        }
        candidateIds = try field.optional("candidate_ids").map(ints)
        truncated = false
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
