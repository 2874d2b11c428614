/// The dev metrics of the official fine-tuning code (`tasks/superglue/finetune.py:DEFAULT_METRICS`,
/// `tasks/eval_utils.py`, `tasks/superglue/evaluate.py`). All are reported in percent; the official
/// code returns accuracy and the ReCoRD scores in percent but macro-F1, F1a and MultiRC EM as
/// fractions.
public enum ClozeMetric: String, Sendable, CaseIterable {
    /// Correct / total.
    case accuracy
    /// CB: scikit-learn `f1_score(average="macro")` over the labels that occur.
    case f1Macro
    /// MultiRC: binary F1 of label 1 over all answers (`f1_score(labels, predictions)`).
    case f1a
    /// MultiRC: questions whose every answer is right.
    case multircExactMatch
    /// MultiRC: accuracy over answers.
    case multircAccuracy
    /// ReCoRD: the predicted entity equals a gold answer after SQuAD normalisation.
    case recordExactMatch
    /// ReCoRD: token F1 of the predicted entity, max over gold answers.
    case recordF1

    /// The official metric name.
    public var key: String {
        switch self {
        case .accuracy: return "accuracy"
        case .f1Macro: return "f1-macro"
        case .f1a: return "f1a"
        case .multircExactMatch: return "em"
        case .multircAccuracy: return "acc"
        case .recordExactMatch: return "EM"
        case .recordF1: return "F1"
        }
    }
}

/// The metric formulas, on plain arrays (so they can be checked against scikit-learn and the SQuAD
/// script on made-up predictions).
public enum Metrics {
    /// Percent of predictions equal to their label (0 for no predictions).
    public static func accuracy(_ predictions: [Int], _ labels: [Int]) -> Double {
        precondition(predictions.count == labels.count)
        guard !labels.isEmpty else { return 0 }
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) * 100 / Double(labels.count)
    }

    /// Per-class F1 `2TP / (2TP + FP + FN)`, 0 when the class never occurs in either list.
    static func f1(of cls: Int, _ predictions: [Int], _ labels: [Int]) -> Double {
        var tp = 0, fp = 0, fn = 0
        for (p, l) in zip(predictions, labels) {
            if p == cls && l == cls { tp += 1 } else if p == cls { fp += 1 } else if l == cls { fn += 1 }
        }
        let d = 2 * tp + fp + fn
        return d == 0 ? 0 : Double(2 * tp) / Double(d)
    }

    /// scikit-learn `f1_score(labels, predictions, average="macro")` × 100: the mean F1 over the
    /// classes present in labels or predictions.
    public static func macroF1(_ predictions: [Int], _ labels: [Int]) -> Double {
        precondition(predictions.count == labels.count)
        let classes = Set(predictions + labels).sorted()
        guard !classes.isEmpty else { return 0 }
        return classes.map { f1(of: $0, predictions, labels) }.reduce(0, +) / Double(classes.count) * 100
    }

    /// scikit-learn `f1_score(labels, predictions)` × 100 (binary, positive class 1).
    public static func binaryF1(_ predictions: [Int], _ labels: [Int]) -> Double {
        precondition(predictions.count == labels.count)
        return f1(of: 1, predictions, labels) * 100
    }

    /// MultiRC exact match × 100 (`multirc_em`): the fraction of questions (grouped by question id)
    /// whose predictions all equal their labels.
    public static func groupExactMatch(_ predictions: [Int], _ labels: [Int], groups: [String]) -> Double {
        precondition(predictions.count == labels.count && labels.count == groups.count)
        var ok: [String: Bool] = [:]
        for (i, g) in groups.enumerated() { ok[g] = (ok[g] ?? true) && predictions[i] == labels[i] }
        guard !ok.isEmpty else { return 0 }
        return Double(ok.values.filter { $0 }.count) * 100 / Double(ok.count)
    }

    /// ReCoRD (`qa_evaluate`) × 100: the mean over questions of the best score of the predicted text
    /// against any gold answer (0 for a question without gold answers).
    public static func questionAnswering(_ predictions: [String], golds: [[String]], metric: (String, String) -> Double) -> Double {
        precondition(predictions.count == golds.count)
        guard !predictions.isEmpty else { return 0 }
        var total = 0.0
        for (p, g) in zip(predictions, golds) where !g.isEmpty { total += g.map { metric(p, $0) }.max()! }
        return total * 100 / Double(predictions.count)
    }

    /// SQuAD exact match after normalisation (1 or 0).
    public static func exactMatch(_ prediction: String, _ gold: String) -> Double {
        AnswerNormalization.normalize(prediction) == AnswerNormalization.normalize(gold) ? 1 : 0
    }

    /// SQuAD token F1 after normalisation.
    public static func tokenF1(_ prediction: String, _ gold: String) -> Double {
        let p = PythonText.split(AnswerNormalization.normalize(prediction))
        let g = PythonText.split(AnswerNormalization.normalize(gold))
        var counts: [String: Int] = [:]
        for t in g { counts[t, default: 0] += 1 }
        var same = 0
        for t in p { if let c = counts[t], c > 0 { same += 1; counts[t] = c - 1 } }
        guard same > 0 else { return 0 }
        let precision = Double(same) / Double(p.count), recall = Double(same) / Double(g.count)
        return 2 * precision * recall / (precision + recall)
    }
}
