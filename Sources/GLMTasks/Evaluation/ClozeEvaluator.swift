import GLM
import GLMSystem
import GLMTensor

/// One example's prediction, with every choice's score.
public struct ClozePrediction: Sendable {
    public let guid: String
    /// The official label (nil for unlabelled data).
    public let label: Int?
    /// The predicted label index the metrics use (WSC: 1 = "True" exactly when choice 0, the
    /// candidate span, scores highest, as `tasks/eval_utils.py:multichoice_evaluate`).
    public let prediction: Int
    /// The highest-scoring choice (first on ties, as `torch.argmax`).
    public let choice: Int
    /// Every choice's score: verbaliser logits (single-token) or summed log-probabilities.
    public let scores: [Float]
    /// The predicted label's name, the chosen entity (ReCoRD) or the chosen choice (BIG-bench).
    public let answer: String
}

/// A task's dev scores and the predictions they came from.
public struct ClozeEvaluation: Sendable {
    /// In the task's metric order (the first chooses the best checkpoint); empty for unlabelled data.
    public var metrics: [(name: String, value: Double)]
    public var predictions: [ClozePrediction]
    /// Examples whose pattern had to be cut to fit the sequence length.
    public var truncated: Int
}

/// Scoring a task's data with any model (no training needed): encode as the evaluation path does
/// (no COPA mirrors, every ReCoRD entity), score every choice with the official head, predict the
/// best choice, compute the official metrics.
public enum ClozeEvaluator {
    /// - Parameters:
    ///   - batchSize: sequences per forward pass (a multi-token example brings one per choice; an
    ///     example with more choices than this is scored over several passes).
    ///   - progress: called as examples are scored, with (examples done, total).
    public static func evaluate(model: GLMModel, encoder: ClozeEncoder, examples: [TaskExample], head: ClozeHead,
                                batchSize: Int = 16, progress: ((Int, Int) -> Void)? = nil) throws -> ClozeEvaluation {
        guard batchSize > 0 else { throw TaskError.setting("--batch-size must be positive, got \(batchSize)") }
        let wasTraining = model.training
        model.training = false
        defer { model.training = wasTraining }
        var scores = [[Float]](repeating: [], count: examples.count)
        var truncated = 0, done = 0
        // Encode a window at a time (a ReCoRD dev set fully encoded would not fit in memory), and
        // batch each window's samples by choice count and length so little padding is computed.
        let window = max(64, 4 * batchSize)
        for start in stride(from: 0, to: examples.count, by: window) {
            let idx = Array(start..<min(start + window, examples.count))
            var samples: [Int: ClozeSample] = [:]
            for i in idx {
                let s = try encoder.encode(examples[i], training: false)
                if s.truncated { truncated += 1 }
                samples[i] = s
            }
            let order = idx.sorted {
                let a = samples[$0]!, b = samples[$1]!
                return (a.choices.count, a.choices.map(\.length).max()!) < (b.choices.count, b.choices.map(\.length).max()!)
            }
            // Pieces: (example, first choice, sample with a slice of its choices).
            var pending: [(Int, ClozeSample)] = [], pendingSeqs = 0
            func flush() throws {
                guard !pending.isEmpty else { return }
                let got = try head.choiceScores(model: model, batch: ClozeBatch(pending.map(\.1)))
                for ((i, _), sc) in zip(pending, got) { scores[i] += sc }
                pending = []; pendingSeqs = 0
            }
            for i in order {
                let s = samples[i]!
                for c in stride(from: 0, to: s.choices.count, by: batchSize) {
                    var piece = s
                    piece.choices = Array(s.choices[c..<min(c + batchSize, s.choices.count)])
                    if pendingSeqs + piece.choices.count > batchSize { try flush() }
                    pending.append((i, piece)); pendingSeqs += piece.choices.count
                }
            }
            try flush()
            done = idx.last! + 1
            progress?(done, examples.count)
        }
        let predictions = examples.indices.map { predict(encoder.task, examples[$0], scores[$0]) }
        return ClozeEvaluation(metrics: metrics(encoder.task, examples: examples, predictions: predictions),
                               predictions: predictions, truncated: truncated)
    }

    /// The prediction of one example from its choice scores.
    public static func predict(_ task: ClozeTask, _ ex: TaskExample, _ scores: [Float]) -> ClozePrediction {
        var best = 0
        for (k, s) in scores.enumerated() where s > scores[best] { best = k }
        var prediction = best
        var answer = task.labelNames(of: ex).indices.contains(best) ? task.labelNames(of: ex)[best] : String(best)
        if case let .superGLUE(t) = task.source {
            switch t {
            case .wsc:
                prediction = best == 0 ? 1 : 0
                answer = t.labels[prediction]
            case .record: answer = ex.meta.candidates?[best] ?? ""
            case .copa: answer = best == 0 ? (ex.meta.choice1 ?? "") : (ex.meta.choice2 ?? "")
            default: break
            }
        }
        return ClozePrediction(guid: ex.guid, label: ex.label, prediction: prediction, choice: best, scores: scores, answer: answer)
    }

    /// The task's metrics over `predictions` (empty when the data has no labels).
    public static func metrics(_ task: ClozeTask, examples: [TaskExample], predictions: [ClozePrediction]) -> [(name: String, value: Double)] {
        let isRecord: Bool = { if case .superGLUE(.record) = task.source { return true }; return false }()
        let labelled = isRecord ? examples.contains { !($0.meta.answers ?? []).isEmpty }
                                : !examples.isEmpty && examples.allSatisfy { $0.label != nil }
        guard labelled else { return [] }
        let p = predictions.map(\.prediction), l = examples.map { $0.label ?? 0 }
        return task.metrics.map { m in
            switch m {
            case .accuracy, .multircAccuracy: return (m.key, Metrics.accuracy(p, l))
            case .f1Macro: return (m.key, Metrics.macroF1(p, l))
            case .f1a: return (m.key, Metrics.binaryF1(p, l))
            case .multircExactMatch: return (m.key, Metrics.groupExactMatch(p, l, groups: examples.map { $0.meta.questionIdx ?? $0.guid }))
            case .recordExactMatch, .recordF1:
                let answers = predictions.map(\.answer), golds = examples.map { $0.meta.answers ?? [] }
                return (m.key, Metrics.questionAnswering(answers, golds: golds, metric: m == .recordF1 ? Metrics.tokenF1 : Metrics.exactMatch))
            }
        }
    }
}

extension ClozePrediction {
    /// One line of `glm evaluate --output`: guid, label (null when unlabelled), prediction (the label
    /// index the metrics use), answer, choice (the best-scoring choice) and every choice's score.
    public func jsonLine() -> String {
        func num(_ f: Float) -> String { f.isFinite ? "\(f)" : "null" }
        return "{\"guid\": \(JSONValue.quote(guid)), \"label\": \(label.map(String.init) ?? "null"), \"prediction\": \(prediction), "
            + "\"answer\": \(JSONValue.quote(answer)), \"choice\": \(choice), \"scores\": [\(scores.map(num).joined(separator: ", "))]}"
    }
}

extension ClozeEvaluation {
    /// The summary `glm evaluate` prints: task, examples, cut examples, then each metric (percent).
    public func summaryJSON(task: String) -> String {
        var s = "{\"task\": \(JSONValue.quote(task)), \"examples\": \(predictions.count), \"truncated\": \(truncated)"
        for m in metrics { s += ", \(JSONValue.quote(m.name)): \(m.value.isFinite ? "\(m.value)" : "null")" }
        return s + "}"
    }
}
