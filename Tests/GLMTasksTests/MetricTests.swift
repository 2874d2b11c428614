import Foundation
import Testing
import GLMTasks

/// The metrics against scikit-learn and the SQuAD script's logic (Tools/metrics/make_metric_fixtures.py,
/// cross-checked there with the official tasks/superglue/evaluate.py) on made-up predictions.
@Suite struct MetricTests {
    static let doc = try! TaskFile.json(Fixtures.folder.appendingPathComponent("metrics.json"))

    static func ints(_ f: TaskField) throws -> [Int] { try f.array().map { try $0.int() } }
    static func strings(_ f: TaskField) throws -> [String] { try f.array().map { try $0.string() } }

    @Test func classificationMetricsMatchScikitLearn() throws {
        for c in try Self.doc.at("classification").array() {
            let p = try Self.ints(c.at("predictions")), l = try Self.ints(c.at("labels"))
            #expect(abs(Metrics.accuracy(p, l) - (try c.at("accuracy").number())) < 1e-9)
            #expect(abs(Metrics.macroF1(p, l) - (try c.at("f1_macro").number())) < 1e-9, "\(p) \(l)")
            if let b = try c.optional("f1_binary") {
                #expect(abs(Metrics.binaryF1(p, l) - (try b.number())) < 1e-9, "\(p) \(l)")
            }
        }
    }

    @Test func multircMetricsMatchTheOfficialLogic() throws {
        for c in try Self.doc.at("multirc").array() {
            let p = try Self.ints(c.at("predictions")), l = try Self.ints(c.at("labels"))
            let q = try Self.strings(c.at("questions"))
            #expect(abs(Metrics.groupExactMatch(p, l, groups: q) - (try c.at("em").number())) < 1e-9)
            #expect(abs(Metrics.binaryF1(p, l) - (try c.at("f1a").number())) < 1e-9)
            #expect(abs(Metrics.accuracy(p, l) - (try c.at("acc").number())) < 1e-9)
        }
    }

    @Test func recordMetricsMatchTheSQuADScript() throws {
        for c in try Self.doc.at("normalize").array() {
            let text = try c.at("text").string(), want = try c.at("normalized").string()
            #expect(AnswerNormalization.normalize(text) == want, "\(text)")
        }
        for c in try Self.doc.at("record").array() {
            let p = try c.at("prediction").string(), golds = try Self.strings(c.at("golds"))
            #expect(abs((golds.map { Metrics.exactMatch(p, $0) }.max() ?? 0) - (try c.at("em").number())) < 1e-9)
            #expect(abs((golds.map { Metrics.tokenF1(p, $0) }.max() ?? 0) - (try c.at("f1").number())) < 1e-9, "\(p)")
        }
        let t = try Self.doc.at("record_total")
        let preds = try Self.strings(t.at("predictions")), golds = try t.at("golds").array().map(Self.strings)
        #expect(abs(Metrics.questionAnswering(preds, golds: golds, metric: Metrics.exactMatch) - (try t.at("EM").number())) < 1e-9)
        #expect(abs(Metrics.questionAnswering(preds, golds: golds, metric: Metrics.tokenF1) - (try t.at("F1").number())) < 1e-9)
    }

    /// The evaluator's per-task metric table: WSC predicts "True" exactly when the span (choice 0)
    /// wins, and its accuracy compares that with the label.
    @Test func wscPredictionIsWhetherTheSpanWins() throws {
        let task = ClozeTask(superGLUE: .wsc)
        let examples = try task.read(Fixtures.data(.wsc, "val.jsonl"), split: .dev)
        let scores: [[Float]] = [[-1, -2, -3], [-0.5], [-4, -1, -9]]
        let preds = zip(examples, scores).map { ClozeEvaluator.predict(task, $0, $1) }
        #expect(preds.map(\.prediction) == [1, 1, 0])
        #expect(preds.map(\.answer) == ["True", "True", "False"])
        // Labels: True, False, False.
        let m = ClozeEvaluator.metrics(task, examples: examples, predictions: preds)
        #expect(m.map(\.name) == ["accuracy"])
        #expect(abs(m[0].value - 200.0 / 3) < 1e-9)
    }
}
