/// The Porter stemmer exactly as NLTK's `nltk.stem.porter.PorterStemmer` in its default
/// `NLTK_EXTENSIONS` mode, which Google's `rouge_score` applies (`use_stemmer=True`) to every token
/// longer than three characters.
///
/// NLTK's departures from the 1980 paper are kept: the irregular-forms pool (`skies` → `sky`,
/// `dying` → `die`, …), `ies`/`ied` on four-letter words, step 1c's `y` → `i` only after a
/// consonant that is not the first letter, step 2's recursive `alli`, `fulli` and the `logi` rule,
/// and the two-letter `*o` condition. Words are ASCII here (the ROUGE tokenizer keeps `[a-z0-9]`
/// only); other bytes are treated as consonants, as NLTK would.
public struct PorterStemmer: Sendable {
    public init() {}

    private static let pool: [String: String] = {
        let irregular: [(String, [String])] = [
            ("sky", ["sky", "skies"]), ("die", ["dying"]), ("lie", ["lying"]), ("tie", ["tying"]),
            ("news", ["news"]), ("inning", ["innings", "inning"]), ("outing", ["outings", "outing"]),
            ("canning", ["cannings", "canning"]), ("howe", ["howe"]), ("proceed", ["proceed"]),
            ("exceed", ["exceed"]), ("succeed", ["succeed"]),
        ]
        var p: [String: String] = [:]
        for (stem, forms) in irregular { for f in forms { p[f] = stem } }
        return p
    }()

    /// The stem of `word` (lowercased first, as NLTK's `stem(word, to_lowercase=True)`).
    public func stem(_ word: String) -> String {
        let lowered = String(String.UnicodeScalarView(PythonScalars.lower(Array(word.unicodeScalars))))
        if let p = Self.pool[lowered] { return p }
        if word.unicodeScalars.count <= 2 { return lowered }
        var w = Word(Array(lowered.utf8))
        w = step1a(w); w = step1b(w); w = step1c(w); w = step2(w); w = step3(w); w = step4(w)
        w = step5a(w); w = step5b(w)
        return String(decoding: w.b, as: UTF8.self)
    }

    // MARK: - Word helpers (NLTK's private methods)

    struct Word {
        var b: [UInt8]
        init(_ b: [UInt8]) { self.b = b }
        init(_ s: String) { b = Array(s.utf8) }
        var count: Int { b.count }
        func ends(_ s: String) -> Bool {
            let t = Array(s.utf8)
            return t.count <= b.count && b[(b.count - t.count)...].elementsEqual(t)
        }
        func dropping(_ n: Int) -> Word { Word(Array(b[..<(b.count - n)])) }
        func plus(_ s: String) -> Word { Word(b + Array(s.utf8)) }
        var last: UInt8? { b.last }
    }

    private static func isVowel(_ c: UInt8) -> Bool {
        c == UInt8(ascii: "a") || c == UInt8(ascii: "e") || c == UInt8(ascii: "i") || c == UInt8(ascii: "o") || c == UInt8(ascii: "u")
    }

    /// `_consonant_flags`: `y` is a consonant at the start and after a vowel, a vowel after a consonant.
    private func consonantFlags(_ w: Word) -> [Bool] {
        var flags: [Bool] = []
        flags.reserveCapacity(w.count)
        for (i, c) in w.b.enumerated() {
            if Self.isVowel(c) { flags.append(false) }
            else if c == UInt8(ascii: "y") { flags.append(i == 0 ? true : !flags[i - 1]) }
            else { flags.append(true) }
        }
        return flags
    }

    /// `_is_consonant` (equal to `_consonant_flags(word)[i]`).
    private func isConsonant(_ w: Word, _ i: Int) -> Bool { consonantFlags(Word(Array(w.b[...i])))[i] }

    /// `_measure`: the number of "vc" pairs in the consonant/vowel pattern.
    private func measure(_ w: Word) -> Int {
        let f = consonantFlags(w)
        var m = 0
        if f.count >= 2 { for i in 1..<f.count where !f[i - 1] && f[i] { m += 1 } }
        return m
    }

    private func containsVowel(_ w: Word) -> Bool { consonantFlags(w).contains(false) }

    /// `*d`: ends with a double consonant.
    private func endsDoubleConsonant(_ w: Word) -> Bool {
        w.count >= 2 && w.b[w.count - 1] == w.b[w.count - 2] && isConsonant(w, w.count - 1)
    }

    /// `*o`: ends consonant-vowel-consonant, the last not w/x/y; or (NLTK) a two-letter vowel-consonant word.
    private func endsCVC(_ w: Word) -> Bool {
        let n = w.count
        if n >= 3, isConsonant(w, n - 3), !isConsonant(w, n - 2), isConsonant(w, n - 1),
           let c = w.last, c != UInt8(ascii: "w"), c != UInt8(ascii: "x"), c != UInt8(ascii: "y") {
            return true
        }
        return n == 2 && !isConsonant(w, 0) && isConsonant(w, 1)
    }

    private enum Suffix { case text(String), doubleConsonant }
    private struct Rule {
        let suffix: Suffix
        let replacement: String
        let condition: ((Word) -> Bool)?
        init(_ s: String, _ r: String, _ c: ((Word) -> Bool)? = nil) { suffix = .text(s); replacement = r; condition = c }
        init(doubleConsonant r: String, _ c: @escaping (Word) -> Bool) { suffix = .doubleConsonant; replacement = r; condition = c }
    }

    /// `_apply_rule_list`: the first rule whose suffix matches decides (its condition may refuse).
    private func apply(_ w: Word, _ rules: [Rule]) -> Word {
        for r in rules {
            switch r.suffix {
            case .doubleConsonant:
                if endsDoubleConsonant(w) {
                    let stem = w.dropping(2)
                    return (r.condition?(stem) ?? true) ? stem.plus(r.replacement) : w
                }
            case .text(let s):
                if w.ends(s) {
                    let stem = w.dropping(s.utf8.count)
                    return (r.condition?(stem) ?? true) ? stem.plus(r.replacement) : w
                }
            }
        }
        return w
    }

    private func positive(_ w: Word) -> Bool { measure(w) > 0 }

    // MARK: - Steps

    private func step1a(_ w: Word) -> Word {
        if w.ends("ies") && w.count == 4 { return w.dropping(3).plus("ie") }
        return apply(w, [Rule("sses", "ss"), Rule("ies", "i"), Rule("ss", "ss"), Rule("s", "")])
    }

    private func step1b(_ w: Word) -> Word {
        if w.ends("ied") { return w.dropping(3).plus(w.count == 4 ? "ie" : "i") }
        if w.ends("eed") {
            let stem = w.dropping(3)
            return measure(stem) > 0 ? stem.plus("ee") : w
        }
        var intermediate: Word? = nil
        for s in ["ed", "ing"] where w.ends(s) {
            let stem = w.dropping(s.utf8.count)
            if containsVowel(stem) { intermediate = stem; break }
        }
        guard let stem = intermediate, let lastByte = stem.last else { return w }
        let last = String(decoding: [lastByte], as: UTF8.self)
        return apply(stem, [
            Rule("at", "ate"), Rule("bl", "ble"), Rule("iz", "ize"),
            Rule(doubleConsonant: last) { _ in !(last == "l" || last == "s" || last == "z") },
            Rule("", "e") { self.measure($0) == 1 && self.endsCVC($0) },
        ])
    }

    private func step1c(_ w: Word) -> Word {
        apply(w, [Rule("y", "i") { $0.count > 1 && self.isConsonant($0, $0.count - 1) }])
    }

    private func step2(_ w: Word) -> Word {
        if w.ends("alli") && positive(w.dropping(4)) { return step2(w.dropping(4).plus("al")) }
        let p: (Word) -> Bool = { self.positive($0) }
        return apply(w, [
            Rule("ational", "ate", p), Rule("tional", "tion", p), Rule("enci", "ence", p), Rule("anci", "ance", p),
            Rule("izer", "ize", p), Rule("bli", "ble", p), Rule("alli", "al", p), Rule("entli", "ent", p),
            Rule("eli", "e", p), Rule("ousli", "ous", p), Rule("ization", "ize", p), Rule("ation", "ate", p),
            Rule("ator", "ate", p), Rule("alism", "al", p), Rule("iveness", "ive", p), Rule("fulness", "ful", p),
            Rule("ousness", "ous", p), Rule("aliti", "al", p), Rule("iviti", "ive", p), Rule("biliti", "ble", p),
            Rule("fulli", "ful", p),
            // NLTK tests the word minus "ogi" (not the stem minus "logi").
            Rule("logi", "log") { _ in self.positive(w.dropping(3)) },
        ])
    }

    private func step3(_ w: Word) -> Word {
        let p: (Word) -> Bool = { self.positive($0) }
        return apply(w, [
            Rule("icate", "ic", p), Rule("ative", "", p), Rule("alize", "al", p), Rule("iciti", "ic", p),
            Rule("ical", "ic", p), Rule("ful", "", p), Rule("ness", "", p),
        ])
    }

    private func step4(_ w: Word) -> Word {
        let m: (Word) -> Bool = { self.measure($0) > 1 }
        return apply(w, [
            Rule("al", "", m), Rule("ance", "", m), Rule("ence", "", m), Rule("er", "", m), Rule("ic", "", m),
            Rule("able", "", m), Rule("ible", "", m), Rule("ant", "", m), Rule("ement", "", m), Rule("ment", "", m),
            Rule("ent", "", m),
            Rule("ion", "") { self.measure($0) > 1 && ($0.last == UInt8(ascii: "s") || $0.last == UInt8(ascii: "t")) },
            Rule("ou", "", m), Rule("ism", "", m), Rule("ate", "", m), Rule("iti", "", m), Rule("ous", "", m),
            Rule("ive", "", m), Rule("ize", "", m),
        ])
    }

    private func step5a(_ w: Word) -> Word {
        guard w.ends("e") else { return w }
        let stem = w.dropping(1)
        let m = measure(stem)
        if m > 1 { return stem }
        if m == 1 && !endsCVC(stem) { return stem }
        return w
    }

    private func step5b(_ w: Word) -> Word {
        apply(w, [Rule("ll", "l") { _ in self.measure(w.dropping(1)) > 1 }])
    }
}
