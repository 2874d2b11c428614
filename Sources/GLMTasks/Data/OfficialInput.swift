import GLMTokenizers

/// `tasks/data_utils.py:build_input_from_ids` with `add_cls`, no `add_sep` and a Part B piece: the
/// one builder of the inputs the official cloze tasks (docs/official-glm.md §6.1, `PVP.encode`) and
/// zero-shot LM tasks (§6.4, `LambadaDataset`, `LMDataset`) score.
///
///     ids     = [CLS] + textA + textB (cut to maxLength − 1 when it reaches maxLength − eos) + [eos if addEos]
///     sep     = len(ids)
///     Part B  = [sop] + answer[:-1] at position = the *last* mask in Part A, blocks 1, 2, …
///     targets = 0 over Part A, then answer; loss 1 on the answer
///
/// Without an answer (single-token cloze), Part B is `[sop]` alone with target 0 and loss 1: the
/// row whose logits score the verbaliser ids.
///
/// The official code pads to `maxLength` with eos (positions 0/0, target 0, loss 0); the sample
/// here stops at its last real token, and ``EncodedSample/padded(to:with:)`` restores the padding
/// (padding follows Part B and changes no score).
enum OfficialInput {
    /// Why an input cannot be built; each caller words the error for its own flags.
    enum Failure {
        /// No mask is left in Part A after the cut to `maxLength`.
        case maskCutOff
        /// An empty answer: nothing to score.
        case emptyAnswer
    }

    /// Throws `fail(reason)` when the mask was cut off or the answer is empty.
    static func build(textA: [Int], textB: [Int]? = nil, answer: [Int]?, maxLength: Int, addEos: Bool, maskId: Int,
                      commands c: CommandTokens, id: String, fail: (Failure) -> TaskError) throws -> EncodedSample {
        var ids = [c.cls] + textA + (textB ?? [])
        if ids.count >= maxLength - (addEos ? 1 : 0) { ids = Array(ids.prefix(maxLength - 1)) }
        if addEos { ids.append(c.eos) }
        let sep = ids.count
        guard let maskPosition = ids.lastIndex(of: maskId) else {
            throw fail(.maskCutOff)
        }
        guard let answer else {
            return EncodedSample(tokens: ids + [c.sop], targets: [Int](repeating: 0, count: sep + 1),
                                 lossMask: [Int](repeating: 0, count: sep) + [1], positions: Array(0..<sep) + [maskPosition],
                                 blockPositions: [Int](repeating: 0, count: sep) + [1], sep: sep, id: id)
        }
        guard !answer.isEmpty else { throw fail(.emptyAnswer) }
        let n = answer.count
        return EncodedSample(tokens: ids + [c.sop] + answer.dropLast(),
                             targets: [Int](repeating: 0, count: sep) + answer,
                             lossMask: [Int](repeating: 0, count: sep) + [Int](repeating: 1, count: n),
                             positions: Array(0..<sep) + [Int](repeating: maskPosition, count: n),
                             blockPositions: [Int](repeating: 0, count: sep) + Array(1...n),
                             sep: sep, id: id)
    }
}

extension OfficialInput.Failure {
    /// The zero-shot LM tasks' wording (`maxLength` tokens of the sample).
    func message(maxLength: Int) -> String {
        switch self {
        case .maskCutOff: return "the mask token was cut off: the text does not fit in \(maxLength) tokens"
        case .emptyAnswer: return "nothing to score: the answer has no tokens"
        }
    }
}
