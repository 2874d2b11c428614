import GLMSystem
import GLMTokenizers

/// One GLM input sequence of a cloze sample (one choice), padded to the sequence length exactly as
/// the official `tasks/data_utils.py:build_input_from_ids` pads it.
public struct ClozeSequence: Sendable, Equatable {
    public var inputIds: [Int]
    /// The 2D positions (docs/official-glm.md §1.4): Part A 0…sep−1, Part B at the mask's index.
    public var positions: [Int]
    /// Block positions: 0 in Part A, 1, 2, … in Part B.
    public var blocks: [Int]
    /// Part A's length (`[CLS] … eos`); Part B starts here with sop.
    public var sep: Int
    public var targetIds: [Int]
    public var lossMask: [Int]
    /// Tokens before the padding.
    public var length: Int
}

/// One example as the model sees it: a single sequence (single-token tasks) or one per choice.
public struct ClozeSample: Sendable {
    public var guid: String
    /// The official label index (for multi-token tasks: the correct choice).
    public var label: Int
    public var kind: ClozeKind
    public var choices: [ClozeSequence]
    /// Single-token tasks: the verbaliser ids, in label order (the official sample's `target`).
    public var candidateIds: [Int]?
    /// Whether a pattern part had to be cut to fit (`PVP.num_truncated`).
    public var truncated: Bool
}

/// Turns task examples into GLM inputs exactly as the official PVP code does
/// (docs/official-glm.md §6.1; official `tasks/superglue/pvp.py:PVP.encode`, `PVP.truncate`,
/// `CopaPVP.encode`, `tasks/data_utils.py:build_input_from_ids`,
/// `tasks/superglue/dataset.py:MultiChoiceDataset.__getitem__`):
///
/// - every pattern part is tokenised on its own (`EncodeAsIds` per part);
/// - input = `[CLS]` + Part A parts + the parts after them + eos; sep = its length; the mask
///   position is the **last** [MASK] in it;
/// - single-token: Part B is `[sop]` (position = mask index, block 1), scored at sep;
///   multi-token: one sequence per choice, Part B = `[sop] + answer[:-1]`, targets = answer
///   (the choice's tokens + eop), blocks 1, 2, …;
/// - too long: one token at a time from the side with more shortenable tokens (a tie cuts the
///   second side), from its last non-empty shortenable part; multi-token choices are cut separately;
/// - padded with eos to the sequence length (positions 0/0, targets 0, loss 0).
public struct ClozeEncoder: Sendable {
    public let task: ClozeTask
    public let tokenizer: GLMTokenizer
    public let seqLength: Int
    public let patternId: Int
    public let kind: ClozeKind
    /// Single-token tasks: the verbaliser id of each label.
    public let candidateIds: [Int]
    /// Multi-token generic tasks: each label's answer ids (eop not included).
    let answerIds: [[Int]]
    /// COPA pattern 2: the ids of " because" and " so".
    let copaJoiners: [Int]
    /// The longest sequence length accepted.
    public static let maxSeqLength = 16384

    /// - Throws: ``TaskError`` for a pattern id the task does not have, a sequence length too short
    ///   to hold anything, or a verbaliser word that is not a single ordinary token in a
    ///   single-token task (the official `get_verbalization_ids(force_single_token=True)` check).
    public init(task: ClozeTask, tokenizer: GLMTokenizer, seqLength: Int, patternId: Int? = nil) throws {
        let pattern = patternId ?? task.defaults.patternId
        guard task.patternIds.contains(pattern) else {
            throw TaskError.setting("task \(task.name) has no pattern \(pattern); its patterns are \(task.patternIds.map(String.init).joined(separator: ", "))")
        }
        // Every sequence is padded to this length, so an absurd value would allocate without bound;
        // released GLMs have at most 1024 positions.
        guard seqLength >= 8 && seqLength <= ClozeEncoder.maxSeqLength else {
            throw TaskError.setting("--seq-length must be between 8 and \(ClozeEncoder.maxSeqLength), got \(seqLength)")
        }
        self.task = task; self.tokenizer = tokenizer; self.seqLength = seqLength; self.patternId = pattern
        func single(_ word: String, _ label: String) throws -> Int {
            let ids = tokenizer.encode(word)
            guard ids.count == 1 else {
                throw TaskError.pattern("the verbaliser word \(JSONValue.quote(word)) of label \(JSONValue.quote(label)) is \(ids.count) tokens with this tokenizer \(ids), but task \(task.name) is single-token: each label needs a word that is one token")
            }
            guard !tokenizer.commandList.contains(where: { $0.id == ids[0] }) else {
                throw TaskError.pattern("the verbaliser word \(JSONValue.quote(word)) of label \(JSONValue.quote(label)) is the special token \(tokenizer.tokenString(ids[0]) ?? "\(ids[0])")")
            }
            return ids[0]
        }
        var kind = task.declaredKind ?? .single
        var candidates: [Int] = [], answers: [[Int]] = [], joiners: [Int] = []
        switch task.source {
        case let .superGLUE(t):
            if t.kind == .single {
                candidates = try zip(SuperGLUEPatterns.verbalizer(t, pattern), t.labels).map { try single($0, $1) }
            }
            if t == .copa && pattern == 2 { joiners = try [single(" because", "cause"), single(" so", "effect")] }
        case let .generic(g):
            answers = g.words.map { tokenizer.encode($0) }
            if let k = answers.firstIndex(where: \.isEmpty) {
                throw TaskError.pattern("the verbaliser word \(JSONValue.quote(g.words[k])) of label \(JSONValue.quote(g.labels[k])) encodes to no tokens")
            }
            if g.kind == nil { kind = answers.allSatisfy { $0.count == 1 } ? .single : .multi }
            if kind == .single { candidates = try zip(g.words, g.labels).map { try single($0, $1) } }
        case .bigBench:
            kind = .multi
        }
        self.kind = kind
        candidateIds = candidates; answerIds = answers; copaJoiners = joiners
    }

    /// The sample of `example`: `training` selects the official training encoding where it differs
    /// (WSC's `--loss-func mix` trains every sample on label 0, its correct span).
    public func encode(_ example: TaskExample, training: Bool = false) throws -> ClozeSample {
        let label = example.label ?? 0
        switch task.source {
        case let .superGLUE(t):
            if t == .copa && patternId == 2 { return try encodeCopaJoiner(example, label: label) }
            let filled = try SuperGLUEPatterns.parts(t, patternId, example)
            if t.kind == .single { return try encodeSingle(example, filled, label: label) }
            let answers = try SuperGLUEPatterns.answers(t, example).map { tokenizer.encode($0) }
            return try encodeMulti(example, filled, answers: answers, label: t == .wsc && training ? 0 : label)
        case let .generic(g):
            let filled = g.parts(example)
            if kind == .single { return try encodeSingle(example, filled, label: label) }
            return try encodeMulti(example, filled, answers: answerIds, label: label)
        case .bigBench:
            return try encodeMultipleChoice(example, label: label)
        }
    }

    // MARK: - The official paths

    typealias Parts = [(ids: [Int], shortenable: Bool)]

    func tokenize(_ parts: [PatternPart]) -> Parts {
        parts.map { p in
            switch p {
            case let .text(s, shortenable): return (tokenizer.encode(s), shortenable)
            case .mask: return ([tokenizer.commands.mask], false)
            }
        }
    }

    /// `PVP.encode`, single-token branch.
    func encodeSingle(_ ex: TaskExample, _ filled: FilledPattern, label: Int) throws -> ClozeSample {
        var a = tokenize(filled.a)
        var b: Parts? = filled.b.isEmpty ? nil : tokenize(filled.b)
        let cut = try truncate(&a, &b, answer: [], ex)
        let seq = try build(ex, a.flatMap(\.ids), b?.flatMap(\.ids), answer: nil)
        return ClozeSample(guid: ex.guid, label: label, kind: .single, choices: [seq], candidateIds: candidateIds, truncated: cut)
    }

    /// `PVP.encode`, multi-token branch: each choice truncated on its own copy of the parts.
    func encodeMulti(_ ex: TaskExample, _ filled: FilledPattern, answers: [[Int]], label: Int) throws -> ClozeSample {
        guard !answers.isEmpty else { throw ex.error("the example has no choices to score") }
        let a0 = tokenize(filled.a)
        let b0: Parts? = filled.b.isEmpty ? nil : tokenize(filled.b)
        var choices: [ClozeSequence] = []
        var cut = false
        for answer in answers {
            let ids = answer + [tokenizer.commands.eop]
            var a = a0, b = b0
            cut = try truncate(&a, &b, answer: ids, ex) || cut
            choices.append(try build(ex, a.flatMap(\.ids), b?.flatMap(\.ids), answer: ids))
        }
        return ClozeSample(guid: ex.guid, label: label, kind: .multi, choices: choices, candidateIds: nil, truncated: cut)
    }

    /// `CopaPVP.encode` for pattern 2: `"c1" or "c2"? premise [MASK] choice`, scoring " because" /
    /// " so" + eop in each choice's sequence.
    func encodeCopaJoiner(_ ex: TaskExample, label: Int) throws -> ClozeSample {
        let (c1, c2) = try SuperGLUEPatterns.copaChoices(ex)
        let premise = PythonText.removeFinalPunctuation(ex.textA)
        let answer = [ex.meta.question == "cause" ? copaJoiners[0] : copaJoiners[1], tokenizer.commands.eop]
        var choices: [ClozeSequence] = []
        var cut = false
        for choice in [" " + c1, " " + c2] {
            let raw: [PatternPart] = [.text("\"", shortenable: false), .text(c1, shortenable: false), .text("\" or \"", shortenable: false),
                                      .text(c2, shortenable: false), .text("\"?", shortenable: false), .text(premise, shortenable: true),
                                      .mask, .text(choice, shortenable: false)]
            // The official code drops empty strings before tokenising (`if x`).
            var a = tokenize(raw.filter { if case let .text(s, _) = $0 { return !s.isEmpty }; return true })
            var b: Parts? = nil
            cut = try truncate(&a, &b, answer: answer, ex) || cut
            choices.append(try build(ex, a.flatMap(\.ids), nil, answer: answer))
        }
        return ClozeSample(guid: ex.guid, label: label, kind: .multi, choices: choices, candidateIds: nil, truncated: cut)
    }

    /// `MultiChoiceDataset.__getitem__`: input + [MASK] (if absent), cut from the left so the longest
    /// choice fits; each choice is Part B as it is (no eop).
    func encodeMultipleChoice(_ ex: TaskExample, label: Int) throws -> ClozeSample {
        var inputs = tokenizer.encode(ex.textA)
        let choices = (ex.meta.choices ?? []).map { tokenizer.encode($0) }
        if let k = choices.firstIndex(where: \.isEmpty) {
            throw ex.error("choice \(JSONValue.quote(ex.meta.choices![k])) encodes to no tokens")
        }
        let mask = tokenizer.commands.mask
        if !inputs.contains(mask) { inputs.append(mask) }
        let longest = choices.map(\.count).max() ?? 0
        var cut = false
        if inputs.count + longest + 2 > seqLength {
            let keep = seqLength - longest - 2
            guard keep >= 1 else {
                throw ex.error("a choice of \(longest) tokens leaves no room for the input in --seq-length \(seqLength)")
            }
            inputs = Array(inputs.suffix(keep))
            cut = true
        }
        let seqs = try choices.map { try build(ex, inputs, nil, answer: $0) }
        return ClozeSample(guid: ex.guid, label: label, kind: .multi, choices: seqs, candidateIds: nil, truncated: cut)
    }

    // MARK: - Shared pieces

    /// `PVP.truncate` (with `num_special_tokens_to_add(add_cls=True, add_sep=False, add_piece=True)`).
    func truncate(_ a: inout Parts, _ b: inout Parts?, answer: [Int], _ ex: TaskExample) throws -> Bool {
        func length(_ p: Parts?, onlyShortenable: Bool = false) -> Int {
            (p ?? []).reduce(0) { $0 + (onlyShortenable && !$1.shortenable ? 0 : $1.ids.count) }
        }
        let special = 2 + (answer.isEmpty ? 1 : 0)
        let total = length(a) + length(b) + answer.count + special
        let remove = total - seqLength
        guard remove > 0 else { return false }
        func removeLast(_ p: inout Parts) throws {
            guard let i = p.indices.last(where: { p[$0].shortenable && !p[$0].ids.isEmpty }) else {
                throw ex.error("\(total) tokens do not fit in --seq-length \(seqLength) even with the cuttable text removed")
            }
            p[i].ids.removeLast()
        }
        for _ in 0..<remove {
            if length(a, onlyShortenable: true) > length(b, onlyShortenable: true) {
                try removeLast(&a)
            } else {
                guard b != nil else {
                    throw ex.error("\(total) tokens do not fit in --seq-length \(seqLength) even with the cuttable text removed")
                }
                try removeLast(&b!)
            }
        }
        return true
    }

    /// `build_input_from_ids(add_cls=True, add_sep=False, add_piece=True, add_eos=True)`
    /// (``OfficialInput``), padded with eos to the sequence length.
    func build(_ ex: TaskExample, _ tokensA: [Int], _ tokensB: [Int]?, answer: [Int]?) throws -> ClozeSequence {
        let s = try OfficialInput.build(textA: tokensA, textB: tokensB, answer: answer, maxLength: seqLength, addEos: true,
                                        maskId: tokenizer.commands.mask, commands: tokenizer.commands, id: ex.guid) { failure in
            switch failure {
            case .maskCutOff: return ex.error("the [MASK] was cut off: the text before it does not fit in --seq-length \(seqLength)")
            case .emptyAnswer: return ex.error("a choice encodes to no tokens")
            }
        }
        let length = s.tokens.count
        let p = s.padded(to: seqLength, with: tokenizer.commands.eos)
        return ClozeSequence(inputIds: p.tokens, positions: p.positions, blocks: p.blockPositions, sep: p.sep,
                             targetIds: p.targets, lossMask: p.lossMask, length: length)
    }
}
