/// One piece of a filled pattern: text (tokenised on its own, as the official `EncodeAsIds` per part)
/// or the [MASK]. Shortenable parts are the ones truncation may cut (`PVP.shortenable`).
public enum PatternPart: Sendable, Equatable {
    case text(String, shortenable: Bool)
    case mask
}

/// A pattern applied to an example: Part A's pieces, then the pieces that follow them (the official
/// `parts_a`, `parts_b`; both end up in Part A of the GLM input, B after A without a separator).
public struct FilledPattern: Sendable, Equatable {
    public var a: [PatternPart]
    public var b: [PatternPart]

    public init(a: [PatternPart], b: [PatternPart] = []) { self.a = a; self.b = b }
}

/// The official patterns and verbalisers of the eight tasks (docs/official-glm.md §6.1; official
/// `tasks/superglue/pvp.py:<Task>PVP.get_parts`, `verbalize`, `get_answers`), every pattern id
/// included. The p-tuning slots (`None`) are dropped, as the official code does without
/// `--continuous-prompt`.
enum SuperGLUEPatterns {
    static func s(_ t: String) -> PatternPart { .text(t, shortenable: true) }
    static func t(_ t: String) -> PatternPart { .text(t, shortenable: false) }
    static let punct = PythonText.removeFinalPunctuation

    /// The pattern `id` of `task` applied to `ex`.
    static func parts(_ task: SuperGLUETask, _ id: Int, _ ex: TaskExample) throws -> FilledPattern {
        let a = ex.textA, b = ex.textB ?? ""
        switch task {
        case .rte, .cb:
            if task == .cb && id == 4 {  // CbPVP pattern 4: the hypothesis keeps its punctuation
                return FilledPattern(a: [s(a), t(" question:"), s(" " + b), t(" true, false or neither?"), t(" answer:"), .mask])
            }
            let hyp = punct(b)  // RtePVP: text_b.rstrip(string.punctuation)
            switch id {
            case 0: return FilledPattern(a: [t("\""), s(hyp), t("\" ?")], b: [.mask, t(","), t(" \""), s(a), t("\"")])
            case 1: return FilledPattern(a: [s(hyp), t("?")], b: [.mask, t(","), s(" " + a)])
            case 2: return FilledPattern(a: [t("\""), s(hyp), t("\" ?")], b: [.mask, t(". \""), s(a), t("\"")])
            case 3: return FilledPattern(a: [s(hyp), t("?")], b: [.mask, t("."), s(" " + a)])
            default: return FilledPattern(a: [s(a), t(" question:"), s(" " + hyp), t(" True or False?"), t(" answer:"), .mask])
            }
        case .boolq:
            switch id {
            case 0, 1: return FilledPattern(a: [s(a), t(" Question:"), s(" " + b), t("? Answer:"), .mask, t(".")])
            case 2, 3: return FilledPattern(a: [s(a), t(" Based on the previous passage,"), s(" " + b), t("?"), .mask, t(".")])
            default: return FilledPattern(a: [t("Based on the following passage"), s(" " + b), t("?"), .mask, t("."), s(" " + a)])
            }
        case .multirc:
            let passage = punct(PythonText.rstripSpace(a))
            let question = punct(PythonText.rstripSpace(b))
            let answer = ex.meta.answer ?? ""
            switch id {
            case 0: return FilledPattern(a: [s(passage), t("."), t(" Question:"), t(" " + question + "?"), t(" Is it"), t(" " + answer), t("?"), .mask, t(".")])
            case 1: return FilledPattern(a: [s(passage), t("."), t(" Question:"), t(" " + question), t("?"), t(" Is the correct answer \""), t(answer), t("\"?"), .mask, t(".")])
            case 2: return FilledPattern(a: [s(passage), t(". Based on the previous passage,"), t(" " + question), t("?"), t(" Is \""), t(answer), t("\" a correct answer?"), .mask, t(".")])
            case 3: return FilledPattern(a: [s(passage), t(" " + question), t("- ["), .mask, t("]"), t(answer)])
            default: return FilledPattern(a: [s(passage), t("."), t(" Question:"), t(" " + question), t("?"), t(" " + answer), t("?"), .mask, t(".")])
            }
        case .wic:
            let word = ex.meta.word ?? ""
            switch id {
            case 0: return FilledPattern(a: [s("\"" + a + "\" / \"" + b + "\""), t(" Similar sense of \"" + word + "\"?"), .mask, t(".")])
            case 1: return FilledPattern(a: [s(a), s(" " + b), t(" Does " + word + " have the same meaning in both sentences?"), .mask])
            default: return FilledPattern(a: [t(word), t(" ."), t(" Sense (1) (a) \""), s(a), t("\""), t(" ("), .mask, t(") \""), t(b), t("\"")])
            }
        case .wsc:
            let pronoun = ex.meta.span2Text ?? ""
            var words = PythonText.split(a)
            guard let i = PythonText.index(ex.meta.span2Index ?? 0, count: words.count) else {
                throw ex.error("the pronoun index \(ex.meta.span2Index ?? 0) is outside the \(words.count) words of the text")
            }
            words[i] = "*" + words[i] + "*"
            let text = words.joined(separator: " ")
            switch id {
            case 0: return FilledPattern(a: [s(text), t(" The pronoun '*" + pronoun + "*' refers to"), .mask, t(".")])
            case 1: return FilledPattern(a: [s(text), t(" In the previous sentence, the pronoun '*" + pronoun + "*' refers to"), .mask, t(".")])
            default: return FilledPattern(a: [s(text), t(" Question: In the passage above, what does the pronoun '*" + pronoun + "*' refer to?"), t(" Answer:"), .mask, t(".")])
            }
        case .copa:
            let (c1, c2) = try copaChoices(ex)
            let premise = punct(" " + a)
            let joiner = ex.meta.question == "cause" ? " because" : ", so"
            if id == 0 {
                return FilledPattern(a: [t("\""), t(c1), t("\" or \""), t(c2), t("\"?"), s(premise), t(joiner), .mask, t(".")])
            }
            return FilledPattern(a: [t(c1), t(" or"), t(" " + c2), t("?"), s(premise), t(joiner), .mask, t(".")])
        case .record:
            let halves = PythonText.split(b, separator: "@placeholder")
            guard halves.count == 2 else {
                throw ex.error(halves.count == 1 ? "the query has no @placeholder" : "the query has \(halves.count - 1) @placeholder marks; the official pattern needs exactly one")
            }
            return FilledPattern(a: [s(a), t(" " + PythonText.rstripSpace(halves[0])), .mask, t(halves[1])])
        }
    }

    /// COPA's alternatives as the patterns use them: first letter lower-cased, final punctuation removed.
    static func copaChoices(_ ex: TaskExample) throws -> (String, String) {
        guard let c1 = PythonText.lowercaseFirst(ex.meta.choice1 ?? ""), let c2 = PythonText.lowercaseFirst(ex.meta.choice2 ?? "") else {
            throw ex.error("an empty COPA alternative")
        }
        return (punct(c1), punct(c2))
    }

    /// Single-token tasks: the verbaliser word of each label, in label order (`verbalize(label)[0]`).
    static func verbalizer(_ task: SuperGLUETask, _ id: Int) -> [String] {
        switch task {
        case .rte: return id == 4 ? [" true", " false"] : [" Yes", " No"]
        case .cb: return id == 4 ? [" true", " false", " neither"] : [" Yes", " No", " Maybe"]
        case .boolq: return [0, 2, 4].contains(id) ? [" No", " Yes"] : [" false", " true"]
        case .wic: return id == 2 ? ["2", "b"] : [" No", " Yes"]
        case .multirc: return id == 3 ? [" False", " True"] : [" No", " Yes"]
        case .copa, .wsc, .record: return []
        }
    }

    /// Multi-token tasks: the answer text of each choice (`get_answers`), before tokenisation.
    static func answers(_ task: SuperGLUETask, _ ex: TaskExample) throws -> [String] {
        switch task {
        case .copa:
            let (c1, c2) = try copaChoices(ex)
            return [" " + c1, " " + c2]
        case .wsc: return [" " + (ex.meta.span1Text ?? "")] + (ex.meta.candidates ?? []).map { " " + $0 }
        case .record: return (ex.meta.candidates ?? []).map { " " + $0 }
        default: return []
        }
    }
}
