/// The official WikiText-103 detokenizer (`tasks/language_model/detokenizer.py:wikitext_detokenizer`),
/// applied to the whole test file before it is encoded (docs/official-glm.md §6.4): `@-@`, `@,@`,
/// `@.@` joins, punctuation spacing, whitespace stripped just inside (), [], {}, "" and '' pairs
/// (the regexes `\(\s*([^\)]*?)\s*\)` and the like, matched left to right without overlap), heading
/// `= = =` runs, ` N ` → ` 1 `, ` 's` → `'s`. The official `/' [0-9]/` substitution writes the
/// literal text `/'[0-9]/`, and so does this.
public enum WikitextDetokenizer {
    public static func detokenize(_ text: String) -> String {
        var s = Array(text.unicodeScalars)
        func rep(_ a: String, _ b: String) { s = PythonScalars.replace(s, a, b) }
        rep("s '", "s'")
        s = literalDigitQuote(s)
        rep(" @-@ ", "-"); rep(" @,@ ", ","); rep(" @.@ ", ".")
        rep(" : ", ": "); rep(" ; ", "; "); rep(" . ", ". "); rep(" ! ", "! "); rep(" ? ", "? "); rep(" , ", ", ")
        s = stripInside(s, "(", ")")
        s = stripInside(s, "[", "]")
        s = stripInside(s, "{", "}")
        s = stripInside(s, "\"", "\"")
        s = stripInside(s, "'", "'")
        rep("= = = =", "===="); rep("= = =", "==="); rep("= =", "==")
        rep(" \u{B0} ", "\u{B0}")
        rep(" \n", "\n"); rep("\n ", "\n")
        rep(" N ", " 1 "); rep(" 's", "'s")
        return String(String.UnicodeScalarView(s))
    }

    /// `re.sub(r"/' [0-9]/", r"/'[0-9]/", s)`.
    private static func literalDigitQuote(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < s.count {
            if i + 4 < s.count, s[i] == "/", s[i + 1] == "'", s[i + 2] == " ", ("0"..."9").contains(s[i + 3]), s[i + 4] == "/" {
                out += Array("/'[0-9]/".unicodeScalars)
                i += 5
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// `re.sub(open \s*([^close]*?)\s* close, open\1close)`: from each `open`, the next `close`
    /// (none inside); whitespace (Python `\s`) just inside both ends removed.
    private static func stripInside(_ s: [Unicode.Scalar], _ open: Unicode.Scalar, _ close: Unicode.Scalar) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == open, let j = s[(i + 1)...].firstIndex(of: close) {
                out.append(open)
                out += PythonScalars.strip(Array(s[(i + 1)..<j]))
                out.append(close)
                i = j + 1
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}
