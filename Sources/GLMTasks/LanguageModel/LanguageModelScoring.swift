import GLM
import GLMTensor

/// Zero-shot language-model scores of encoded samples, as the official `lm_forward_step` computes
/// them (docs/official-glm.md §6.4; official `tasks/language_model/finetune.py`): one forward pass per
/// batch (eval mode, no dropout), logits only for the rows with loss.
public enum LanguageModelScoring {
    /// Per-sample results of one scoring pass.
    public struct SampleScore: Sendable, Equatable {
        /// Σ cross-entropy over the sample's loss positions (`eval_metric == 'loss'`: not normalised).
        public var lossSum: Double
        /// Loss positions.
        public var tokens: Int
        /// Whether every loss position's argmax is its target (`eval_metric == 'accuracy'`).
        public var allCorrect: Bool
    }

    /// Scores `samples` in batches of `batchSize` (padded within a batch; padding follows Part B and
    /// changes nothing). The argmax takes the first maximum, as `torch.argmax`.
    public static func score(model: GLMModel, samples: [EncodedSample], batchSize: Int = 16, padId: Int = 0) throws -> [SampleScore] {
        guard batchSize > 0 else { throw TaskError.setting("batch size must be positive, got \(batchSize)") }
        let wasTraining = model.training
        model.training = false
        defer { model.training = wasTraining }
        var out: [SampleScore] = []
        out.reserveCapacity(samples.count)
        var start = 0
        while start < samples.count {
            let chunk = Array(samples[start..<min(start + batchSize, samples.count)])
            start += chunk.count
            let batch = try EncodedBatch(chunk, padId: padId)
            let rows = batch.lossRows
            var scores = chunk.map { _ in SampleScore(lossSum: 0, tokens: 0, allCorrect: true) }
            guard !rows.isEmpty else { out += scores; continue }
            let logits = try Autograd.withNoGrad { () -> Tensor in
                let h = try model.hiddenStates(inputIds: batch.inputIds, positionIds: batch.positionIds, mask: batch.mask)
                return try model.logits(hiddenStates: h, rows: rows).contiguous()
            }
            let v = logits.shape[1]
            let targets = rows.map { batch.targets[$0] }
            for (i, t) in targets.enumerated() where t < 0 || Int(t) >= v {
                throw TaskError.setting("target \(t) of sample \(chunk[rows[i] / batch.length].id) is outside the vocabulary of \(v)")
            }
            let logProbs = try Autograd.withNoGrad { try Ops.tokenLogProbs(logits, targets: targets) }.toArray()
            let best = try Ops.rowArgmax(logits)
            for (i, r) in rows.enumerated() {
                let b = r / batch.length
                let w = Double(batch.lossMask[r])
                scores[b].lossSum += -Double(logProbs[i]) * w
                scores[b].tokens += 1
                if best[i] != Int(targets[i]) { scores[b].allCorrect = false }
            }
            out += scores
        }
        return out
    }

    /// LAMBADA accuracy: the fraction of samples whose every target token is the argmax (the
    /// official script prints it × 100).
    public static func lambada(model: GLMModel, samples: [EncodedSample], batchSize: Int = 16, padId: Int = 0) throws -> LambadaScore {
        let s = try score(model: model, samples: samples, batchSize: batchSize, padId: padId)
        let correct = s.filter(\.allCorrect).count
        return LambadaScore(correct: correct, examples: s.count, accuracy: s.isEmpty ? 0 : Double(correct) / Double(s.count))
    }

    /// Perplexity of a corpus: every window of every document scored, then ``Perplexity/scores(lossSum:tokens:words:)``.
    public static func perplexity(model: GLMModel, task: Perplexity, corpus: Perplexity.Corpus, batchSize: Int = 16) throws -> PerplexityScore {
        var windows: [EncodedSample] = []
        for (d, doc) in corpus.documents.enumerated() { windows += try task.windows(document: doc, id: "doc-\(d)-") }
        let s = try score(model: model, samples: windows, batchSize: batchSize, padId: task.commands.eos)
        let total = s.reduce(0.0) { $0 + $1.lossSum }
        return try Perplexity.scores(lossSum: total, tokens: corpus.tokens, words: corpus.words)
    }
}

/// LAMBADA-style accuracy.
public struct LambadaScore: Sendable, Equatable, Codable {
    public var correct: Int
    public var examples: Int
    /// `correct / examples` (a fraction; the official code prints × 100).
    public var accuracy: Double
}
