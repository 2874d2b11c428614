import Foundation
import GLM
import GLMTasks
import GLMTensor
import GLMTokenizers

/// Blank-infilling fine-tuning as the official `BlankLMDataset` (docs/official-glm.md §6.3;
/// `config_tasks/seq_blank.sh`): every training text is masked at the mask ratio when its batch is
/// built (``BlankInfilling/mask(_:ratio:rng:)``, the official `mask_text`), laid out with every
/// blank in Part B (``BlankInfilling/training(source:targets:id:)``) and trained with the seq2seq
/// loss (label smoothing 0.1).
///
/// The official dataset draws the masks from one `random.Random(seed)` in the order the loader
/// fetches examples. Here each micro-batch seeds its own generator from the run's seed and the
/// batch's example indices, so a text gets new masks each epoch, and a resumed run sees exactly
/// the masks it would have. Texts too short for one blank at the ratio are left out of training.
///
/// The official code keeps no dev metric for this task; with dev data, the dev texts are masked
/// once (``BlankInfilling/examples(_:maskRatio:seed:)``), filled by ``BlankInfillingEvaluator``
/// and scored by BLEU, which then chooses the best checkpoint.
public final class BlankInfillingFinetuneTask: FinetuneTask {
    public let infilling: BlankInfilling
    public let settings: Seq2SeqSettings
    let texts: [String]
    let dev: [BlankInfillingExample]
    let seed: UInt64
    let evalBatchSize: Int

    public var name: String { "blank-infill" }
    public var trainingExampleCount: Int { texts.count }

    /// Reads the training texts (a text file with one text per line, or JSON lines with `text`) and
    /// the dev texts.
    public init(settings: Seq2SeqSettings, tokenizer: GLMTokenizer, train: URL, dev: URL?, seed: UInt64, evalBatchSize: Int) throws {
        self.settings = settings
        infilling = try BlankInfilling(tokenizer: tokenizer, sourceLength: settings.sourceLength, maskRatio: settings.blankMaskRatio)
        texts = try BlankInfilling.trainingTexts(train, maskRatio: settings.blankMaskRatio)
        self.dev = try dev.map { try BlankInfilling.examples($0, maskRatio: settings.blankMaskRatio, seed: seed).examples } ?? []
        for ex in self.dev {
            do { _ = try infilling.evaluation(source: ex.source, id: ex.id) } catch let TaskError.data(_, _, message) {
                throw TaskError.data(file: ex.location, line: nil, message: message)
            }
        }
        self.seed = seed
        self.evalBatchSize = evalBatchSize
    }

    public func trainingBatch(_ indices: [Int]) throws -> TrainingBatch {
        try trainingBatch(indices, part: .whole)
    }

    /// The masking is seeded by the whole micro-batch's indices, so every rank masks the same way
    /// and takes its part (``Seq2SeqFinetuneTask/part(of:padId:part:labelSmoothing:label:)``).
    public func trainingBatch(_ indices: [Int], part: BatchPart) throws -> TrainingBatch {
        var h = seed ^ 0xB1A4_C0DE
        for i in indices { h = (h ^ UInt64(i)) &* 0x100_0000_01B3 }
        var rng = PythonRandom(seed: h)
        let samples = try indices.map { i -> EncodedSample in
            let (source, targets) = BlankInfilling.mask(texts[i], ratio: settings.blankMaskRatio, rng: &rng)
            return try infilling.training(source: source, targets: targets, id: "train-\(i)")
        }
        return try Seq2SeqFinetuneTask.part(of: samples, padId: infilling.tokenizer.commands.pad, part: part,
                                            labelSmoothing: Float(settings.labelSmoothing), label: name)
    }

    public func evaluate(model: GLMModel) throws -> [(String, Double)] {
        guard !dev.isEmpty else { return [] }
        let r = try BlankInfillingEvaluator.evaluate(model: model, task: infilling, examples: dev,
                                                     config: Seq2SeqTask.blank.generationConfig(settings), batchSize: evalBatchSize)
        return [("eval_bleu", r.bleu.score)]
    }
}
