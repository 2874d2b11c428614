import Foundation
import GLMTokenizers

/// LAMBADA-style last-word prediction exactly as the official zero-shot task
/// (docs/official-glm.md §6.4; official `tasks/language_model/dataset.py:LambadaDataset`, strict mode,
/// `config_tasks/zero_lambada.sh` and `zero_lambada_uni.sh`).
///
/// - Target: the last whitespace word of the passage, encoded as `" " + word` (possibly several
///   tokens); the context is the text before its last occurrence, stripped and encoded.
/// - Bidirectional: `[CLS] context [M] [eos] | [sop] target[:-1]`, the loss on the target tokens.
/// - Unidirectional: `[CLS] context[0] [M] [eos] | [sop] (context[1:] + target)[:-1]`, the loss on
///   the target tokens only.
/// - Too long: Part A loses tokens from its *start* so the whole fits `seqLength` (the unidirectional
///   form then loses its first token and, beyond that, its mask, which the official code cannot
///   handle either: an error here).
/// - [M] is [MASK], or [gMASK] for task-mask models.
/// - Correct: every target token is the argmax of its row (``LanguageModelScoring/lambada(model:samples:batchSize:)``).
public struct Lambada: Sendable {
    /// The tokenizer of the text-level methods (nil for a layout built from command ids alone).
    public let tokenizer: GLMTokenizer?
    public let commands: CommandTokens
    /// `--seq-length` (512 in the official scripts).
    public let seqLength: Int
    public let unidirectional: Bool
    public let maskId: Int

    public init(tokenizer: GLMTokenizer, seqLength: Int = 512, unidirectional: Bool = false, taskMask: Bool = false) throws {
        try self.init(commands: tokenizer.commands, maskId: LanguageModelMask.id(tokenizer, taskMask: taskMask),
                      seqLength: seqLength, unidirectional: unidirectional, tokenizer: tokenizer)
    }

    /// The id-level layout (``sample(context:target:id:)``); `tokenizer` is needed for the text methods.
    public init(commands: CommandTokens, maskId: Int, seqLength: Int = 512, unidirectional: Bool = false,
                tokenizer: GLMTokenizer? = nil) throws {
        guard seqLength > 4 else { throw TaskError.setting("--seq-length \(seqLength) is too short for a LAMBADA layout") }
        self.tokenizer = tokenizer
        self.commands = commands
        self.maskId = maskId
        self.seqLength = seqLength
        self.unidirectional = unidirectional
    }

    private func textTokenizer() throws -> GLMTokenizer {
        guard let tokenizer else { throw TaskError.setting("this LAMBADA layout was built without a tokenizer") }
        return tokenizer
    }

    /// The `text` of each JSON line (the official LAMBADA jsonl), with its location.
    public static func texts(_ url: URL) throws -> [(text: String, location: String)] {
        try TaskFile.jsonLines(url).map { rec in
            let t = try rec.at("text").string()
            guard !PythonText.split(t).isEmpty else { throw rec.error("field \"text\" has no words") }
            return (t, "\(url.path):\(rec.line)")
        }
    }

    /// `LambadaDataset.get_tokens` (strict): context ids and target ids.
    public func tokens(_ text: String) throws -> (context: [Int], target: [Int]) {
        guard let last = PythonText.split(text).last else { throw TaskError.setting("a LAMBADA passage needs at least one word") }
        let t = Array(text.unicodeScalars), w = Array(last.unicodeScalars)
        var start = t.count - w.count
        while start >= 0 && !t[start..<(start + w.count)].elementsEqual(w) { start -= 1 }
        let before = String(String.UnicodeScalarView(t[..<max(start, 0)]))
        let tok = try textTokenizer()
        return (tok.encode(PythonText.strip(before)), tok.encode(" " + last))
    }

    /// The official sample of one passage (`LambadaDataset.__getitem__`, block LM), unpadded.
    public func sample(_ text: String, id: String = "") throws -> EncodedSample {
        let (context, answer) = try tokens(text)
        return try sample(context: context, target: answer, id: id)
    }

    /// The sample from ids (`context`, `target` as ``tokens(_:)`` gives them).
    public func sample(context: [Int], target answer: [Int], id: String = "") throws -> EncodedSample {
        var partA: [Int], piece: [Int]
        if unidirectional {
            partA = Array(context.prefix(1))
            piece = Array(context.dropFirst()) + answer
        } else {
            partA = context
            piece = answer
        }
        partA.append(maskId)
        // num_special_tokens_to_add(add_cls, add_piece, add_eos): [CLS] + eos (+ sop when the piece is empty).
        let special = 2 + (piece.isEmpty ? 1 : 0)
        let leftShift = partA.count + piece.count + special - seqLength
        if leftShift > 0 { partA = Array(partA.dropFirst(leftShift)) }
        var s = try OfficialInput.build(textA: partA, answer: piece, maxLength: seqLength, addEos: true,
                                        maskId: maskId, commands: commands, id: id) {
            TaskError.data(file: id, line: nil, message: $0.message(maxLength: seqLength))
        }
        if unidirectional {
            // Only the last len(target) loss positions count.
            guard let last = s.lossMask.lastIndex(of: 1) else { return s }
            for i in 0..<max(0, last + 1 - answer.count) { s.lossMask[i] = 0 }
        }
        return s
    }

    /// The sample as the official dataset returns it, padded with eos to `seqLength`.
    public func officialSample(_ text: String, id: String = "") throws -> EncodedSample {
        try sample(text, id: id).padded(to: seqLength, with: commands.eos)
    }
}

/// The mask of the zero-shot LM layouts: [MASK], or [gMASK] for task-mask models (`LambadaDataset`,
/// `LMDataset`: `"gMASK" if args.task_mask else "MASK"`).
enum LanguageModelMask {
    static func id(_ tokenizer: GLMTokenizer, taskMask: Bool) throws -> Int {
        guard taskMask else { return tokenizer.commands.mask }
        guard let g = tokenizer.commands.gMask else {
            throw TaskError.pattern("the task-mask layout needs [gMASK], which the \(tokenizer.family.rawValue) tokenizer does not have")
        }
        return g
    }
}
