import GLMTokenizers

/// `tasks/data_utils.py:build_input_from_ids` with `text_b = None`, `add_cls`, no `add_sep`, and a
/// Part B piece: the input the official zero-shot LM tasks build (docs/official-glm.md §6.4).
///
///     ids     = [CLS] + textA (cut to maxLength − 1 when it reaches that) + [eos if addEos]
///     sep     = len(ids)
///     Part B  = [sop] + answer[:-1] at position = the *last* mask in Part A, blocks 1, 2, …
///     targets = 0 over Part A, then answer; loss 1 on the answer
///
/// The official code pads to `maxLength` with eos (positions 0/0, loss 0); the sample here stops
/// at its last real token (``EncodedSample/padded(to:with:)`` restores the padding), which changes
/// no score because padding follows Part B.
enum OfficialInput {
    static func build(textA: [Int], answer: [Int], maxLength: Int, addEos: Bool, maskId: Int,
                      commands c: CommandTokens, id: String) throws -> EncodedSample {
        var ids = [c.cls] + textA
        if ids.count >= maxLength - (addEos ? 1 : 0) { ids = Array(ids.prefix(maxLength - 1)) }
        if addEos { ids.append(c.eos) }
        let sep = ids.count
        guard let maskPosition = ids.lastIndex(of: maskId) else {
            throw TaskError.data(file: id, line: nil, message: "the mask token was cut off: the text does not fit in \(maxLength) tokens")
        }
        guard !answer.isEmpty else {
            throw TaskError.data(file: id, line: nil, message: "nothing to score: the answer has no tokens")
        }
        let n = answer.count
        return EncodedSample(tokens: ids + [c.sop] + answer.dropLast(),
                             targets: [Int](repeating: 0, count: sep) + answer,
                             lossMask: [Int](repeating: 0, count: sep) + [Int](repeating: 1, count: n),
                             positions: Array(0..<sep) + [Int](repeating: maskPosition, count: n),
                             blockPositions: [Int](repeating: 0, count: sep) + Array(1...n),
                             sep: sep, id: id)
    }
}
