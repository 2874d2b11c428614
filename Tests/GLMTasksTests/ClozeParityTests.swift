import Foundation
import Testing
import GLMTokenizers
import GLMTasks

/// The cloze encoding against the official code's, field by field: the expected samples in
/// Fixtures/cloze-parity were produced by the official `tasks/superglue/{dataset,pvp}.py` and
/// `tasks/data_utils.py:build_input_from_ids` (Tools/cloze_parity/run_official.py) from the
/// hand-written SuperGLUE files in Fixtures/superglue: every task, every pattern id, the training and
/// evaluation encodings, sequence lengths 47 (cuts the long examples) and the official default, with
/// the BERT and GPT-2 tokenizers. Where the official code raises, the encoder must throw.
@Suite struct ClozeParityTests {
    struct Expected {
        let guid: String
        let error: String?
        let fields: [String: Any]
    }

    static func expected(_ tok: String, _ task: SuperGLUETask) throws -> [String: [Expected]] {
        try expected(tok, task.rawValue)
    }

    static func expected(_ tok: String, _ name: String) throws -> [String: [Expected]] {
        let url = Fixtures.folder.appendingPathComponent("cloze-parity/\(tok)-\(name).jsonl")
        let text = try String(contentsOf: url, encoding: .utf8)
        var byCase: [String: [Expected]] = [:]
        for line in text.split(separator: "\n") {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            byCase[obj["case"] as! String, default: []].append(
                Expected(guid: obj["guid"] as! String, error: obj["error"] as? String, fields: obj))
        }
        return byCase
    }

    /// Our sample's arrays compared with an official sample stored without its padding (`length` per
    /// choice; everything after it is the official padding: eos, position 0/0, target 0, loss 0).
    static func mismatch(_ s: ClozeSample, _ e: [String: Any], eos: Int, seq: Int) -> String? {
        func ints(_ v: Any?) -> [Int] { (v as! [Any]).map { ($0 as! NSNumber).intValue } }
        func rows(_ key: String) -> [[Int]] { (e[key] as! [Any]).map(ints) }
        if s.label != (e["label"] as! NSNumber).intValue { return "label \(s.label) != \(e["label"]!)" }
        if s.kind.rawValue != e["kind"] as! String { return "kind" }
        let lengths = ints(e["length"])
        if s.choices.count != lengths.count { return "\(s.choices.count) choices, official \(lengths.count)" }
        if s.choices.map(\.sep) != ints(e["sep"]) { return "sep \(s.choices.map(\.sep)) != \(ints(e["sep"]))" }
        if let c = e["candidate_ids"] { if s.candidateIds != ints(c) { return "candidate_ids" } } else if s.candidateIds != nil { return "candidate_ids present" }
        let pos = (e["position_ids"] as! [Any]).map { ($0 as! [Any]).map(ints) }
        for (k, q) in s.choices.enumerated() {
            let n = lengths[k]
            let pad = seq - n
            func padded(_ a: [Int], _ v: Int) -> [Int] { a + [Int](repeating: v, count: pad) }
            if q.length != n { return "choice \(k): length \(q.length) != \(n)" }
            if q.inputIds != padded(rows("input_ids")[k], eos) { return "choice \(k): input_ids" }
            if q.positions != padded(pos[k][0], 0) { return "choice \(k): positions" }
            if q.blocks != padded(pos[k][1], 0) { return "choice \(k): block positions" }
            if q.targetIds != padded(rows("target_ids")[k], 0) { return "choice \(k): target_ids" }
            if q.lossMask != padded(rows("loss_mask")[k], 0) { return "choice \(k): loss_mask" }
        }
        return nil
    }

    @Test(arguments: ["bert", "gpt2"], SuperGLUETask.allCases)
    func encodingEqualsTheOfficialCode(tok: String, task: SuperGLUETask) throws {
        let tokenizer = tok == "bert" ? Fixtures.bert : Fixtures.gpt2
        let cases = try Self.expected(tok, task)
        #expect(cases.count == task.patternIds.count * 2 * 2, "every pattern × 2 lengths × 2 splits")
        var compared = 0
        for (name, expected) in cases.sorted(by: { $0.key < $1.key }) {
            let parts = name.split(separator: "-")
            let pattern = Int(parts[0].dropFirst())!, seq = Int(parts[1].dropFirst())!, train = parts[2] == "train"
            let encoder = try ClozeEncoder(task: ClozeTask(superGLUE: task), tokenizer: tokenizer, seqLength: seq, patternId: pattern)
            let examples = try ClozeTask(superGLUE: task).read(Fixtures.data(task, train ? "train.jsonl" : "val.jsonl"),
                                                               split: train ? .train : .dev)
            #expect(examples.count == expected.count, "\(name): \(examples.count) examples, official \(expected.count)")
            // ReCoRD numbers a question's answers in Python set order: match those by content.
            var unmatched = expected
            for ex in examples {
                let result = Result { try encoder.encode(ex, training: train) }
                let candidates = unmatched.indices.filter {
                    task == .record && train ? unmatched[$0].guid.split(separator: "-").dropLast() == ex.guid.split(separator: "-").dropLast()
                                             : unmatched[$0].guid == ex.guid
                }
                guard !candidates.isEmpty else { Issue.record("\(name): no official sample \(ex.guid)"); continue }
                switch result {
                case let .success(s):
                    let hit = candidates.first {
                        unmatched[$0].error == nil && Self.mismatch(s, unmatched[$0].fields, eos: tokenizer.commands.eos, seq: seq) == nil
                    }
                    if let hit { unmatched.remove(at: hit); compared += 1; continue }
                    let why = unmatched[candidates[0]].error ?? Self.mismatch(s, unmatched[candidates[0]].fields, eos: tokenizer.commands.eos, seq: seq)!
                    Issue.record("\(tok) \(task) \(name) \(ex.guid): \(why)")
                case let .failure(error):
                    if let k = candidates.first(where: { unmatched[$0].error != nil }) {
                        #expect(error is TaskError, "\(error)")
                        unmatched.remove(at: k); compared += 1
                    } else {
                        Issue.record("\(tok) \(task) \(name) \(ex.guid): threw \(error), the official code encodes it")
                    }
                }
            }
            #expect(unmatched.isEmpty, "\(name): official samples left unmatched: \(unmatched.map(\.guid))")
        }
        #expect(compared > 0)
    }

    /// BIG-bench through the official generic multiple-choice path (`MultiChoiceDataset`), and task
    /// files (a single-token and a multi-token verbaliser) through the official `PVP.encode`.
    @Test(arguments: ["bert", "gpt2"], ["bigbench", "sentiment", "topic"])
    func bigBenchAndTaskFilesEqualTheOfficialCode(tok: String, name: String) throws {
        let tokenizer = tok == "bert" ? Fixtures.bert : Fixtures.gpt2
        let (taskArg, data): (String, String) = switch name {
        case "bigbench": ("bigbench", "bigbench/task.json")
        case "sentiment": (Fixtures.folder.appendingPathComponent("generic/sentiment.json").path, "generic/reviews.jsonl")
        default: (Fixtures.folder.appendingPathComponent("generic/topic.json").path, "generic/topics.jsonl")
        }
        let task = try ClozeTask.named(taskArg)
        let examples = try task.read(Fixtures.folder.appendingPathComponent(data), split: .dev)
        let cases = try Self.expected(tok, name)
        #expect(cases.count == 2)
        for (caseName, expected) in cases {
            let seq = Int(caseName.split(separator: "-")[1].dropFirst())!
            let encoder = try ClozeEncoder(task: task, tokenizer: tokenizer, seqLength: seq)
            #expect(examples.map(\.guid) == expected.map(\.guid))
            for (ex, e) in zip(examples, expected) {
                let s = try encoder.encode(ex)
                let why = Self.mismatch(s, e.fields, eos: tokenizer.commands.eos, seq: seq)
                #expect(why == nil, "\(tok) \(name) \(caseName) \(ex.guid): \(why ?? "")")
            }
        }
    }

    @Test func theFixturesCoverCutsAndRefusals() throws {
        // The short length must actually cut examples, and one case must be refused, or the
        // comparison above would not test truncation and errors.
        var cut = 0, refused = 0
        for task in SuperGLUETask.allCases {
            let encoder = try ClozeEncoder(task: ClozeTask(superGLUE: task), tokenizer: Fixtures.bert, seqLength: 47,
                                           patternId: task.defaults.patternId)
            for ex in try ClozeTask(superGLUE: task).read(Fixtures.data(task, "train.jsonl"), split: .train) {
                if let s = try? encoder.encode(ex, training: true) { cut += s.truncated ? 1 : 0 } else { refused += 1 }
            }
        }
        #expect(cut >= 8)
        let wic = try ClozeEncoder(task: ClozeTask(superGLUE: .wic), tokenizer: Fixtures.bert, seqLength: 47, patternId: 2)
        let long = try ClozeTask(superGLUE: .wic).read(Fixtures.data(.wic, "train.jsonl"), split: .train)[3]
        #expect(throws: TaskError.self) { try wic.encode(long, training: true) }
        _ = refused
    }
}
