import GLMTokenizers

/// Turns ``Seq2SeqExample``s into model inputs exactly as the official `Seq2SeqDataset` and
/// `CustomizationDataset` do (docs/official-glm.md §6.2): tokenisation of each text piece
/// (with the leading spaces the official code adds), then ``Seq2SeqLayout``.
public struct Seq2SeqEncoder: Sendable {
    public let tokenizer: GLMTokenizer
    public let task: Seq2SeqTask
    public let layout: Seq2SeqLayout

    /// `taskMask` selects [sMASK] (the official `--task-mask` of GLM-10B-style models); a tokenizer
    /// without [sMASK] is refused. Lengths default to the task's official settings.
    public init(tokenizer: GLMTokenizer, task: Seq2SeqTask, sourceLength: Int? = nil, targetLength: Int? = nil,
                taskMask: Bool = false, noBlockPosition: Bool = false) throws {
        guard task.layout != .blank else {
            throw TaskError.unknownTask("blank infilling has its own encoder (BlankInfilling)")
        }
        let mask: Int
        if taskMask {
            guard let s = tokenizer.commands.sMask else {
                throw TaskError.pattern("the task-mask layout needs [sMASK], which the \(tokenizer.family.rawValue) tokenizer does not have")
            }
            mask = s
        } else {
            mask = tokenizer.commands.mask
        }
        self.tokenizer = tokenizer
        self.task = task
        layout = try Seq2SeqLayout(commands: tokenizer.commands, maskId: mask,
                                   sourceLength: sourceLength ?? task.settings.sourceLength,
                                   targetLength: targetLength ?? task.settings.targetLength,
                                   noBlockPosition: noBlockPosition)
    }

    /// Part A of `example` before padding.
    public func source(_ example: Seq2SeqExample) throws -> [Int] {
        do {
            switch task.layout {
            case .summary:
                return try layout.summarySource(sourceIds: tokenizer.encode(" " + example.source),
                                                contentIds: tokenizer.encode(" Content:"))
            case .questionGeneration:
                guard let answer = example.answer else {
                    throw TaskError.data(file: example.location, line: nil, message: "question generation needs an answer")
                }
                return try layout.questionGenerationSource(
                    contextIds: tokenizer.encode(PythonText.rstripSpace(example.source) + " Question:"),
                    answerIds: tokenizer.encode(" Answer: " + answer),
                    answerPattern: tokenizer.encode(" " + answer))
            case .customization:
                return try layout.customizationSource(sourceIds: tokenizer.encode(example.source))
            case .blank:
                throw TaskError.unknownTask("blank infilling has its own encoder (BlankInfilling)")
            }
        } catch let e as TaskError {
            if case .data = e { throw e }
            throw TaskError.data(file: example.location, line: nil, message: e.description)
        }
    }

    /// The training sample of `example`.
    public func training(_ example: Seq2SeqExample) throws -> EncodedSample {
        try layout.training(source: source(example), targetIds: tokenizer.encode(" " + example.target), id: example.id)
    }

    /// The evaluation sample of `example` (`source + [sop]`).
    public func evaluation(_ example: Seq2SeqExample) throws -> EncodedSample {
        try layout.evaluation(source: source(example), id: example.id)
    }

    /// The reference the official evaluation scores against: the target after a tokenizer round
    /// trip (`DecodeIds(EncodeAsIds(target))`, lowercased by an uncased BERT vocabulary); the
    /// customisation task keeps the raw target.
    public func reference(_ example: Seq2SeqExample) -> String {
        task == .customization ? example.target : tokenizer.decode(tokenizer.encode(example.target))
    }
}
