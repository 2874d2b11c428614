import Foundation

/// The SQuAD-style answer normalisation of the official ReCoRD metric
/// (`tasks/superglue/evaluate.py:normalize_answer`): lower-case, transliterate to ASCII
/// (`unidecode`), drop ASCII punctuation, drop the words a/an/the, collapse whitespace.
///
/// The transliteration is exact for ASCII, for letters whose compatibility decomposition is an ASCII
/// letter plus marks (é, ñ, ü, ﬁ …), and for the Latin-1, Latin Extended-A and General Punctuation
/// characters that `unidecode` spells differently (ß → ss, æ → ae, ø → o, – → -, € → EUR …). Other
/// scripts (Cyrillic, CJK, …), which `unidecode` romanises, are dropped here.
public enum AnswerNormalization {
    static let table: [UInt32: String] = [
        0x00A1: "!", 0x00A2: "C/", 0x00A3: "PS", 0x00A4: "$?", 0x00A5: "Y=", 0x00A6: "|", 0x00A7: "SS", 0x00A8: "\"",
        0x00A9: "(c)", 0x00AB: "<<", 0x00AC: "!", 0x00AE: "(r)", 0x00AF: "-", 0x00B0: "deg", 0x00B1: "+-", 0x00B4: "'",
        0x00B5: "u", 0x00B6: "P", 0x00B7: "*", 0x00B8: ",", 0x00BB: ">>", 0x00BC: " 1/4", 0x00BD: " 1/2", 0x00BE: " 3/4",
        0x00BF: "?", 0x00D7: "x", 0x00DF: "ss", 0x00E6: "ae", 0x00F0: "d", 0x00F7: "/", 0x00F8: "o", 0x00FE: "th",
        0x0111: "d", 0x0127: "h", 0x0131: "i", 0x0138: "k", 0x0142: "l", 0x0149: "'n", 0x014B: "ng", 0x0153: "oe",
        0x0167: "t", 0x200B: " ", 0x2010: "-", 0x2011: "-", 0x2012: "-", 0x2013: "-", 0x2014: "--", 0x2015: "--",
        0x2016: "||", 0x2017: "_", 0x2018: "'", 0x2019: "'", 0x201A: ",", 0x201B: "'", 0x201C: "\"", 0x201D: "\"",
        0x201E: ",,", 0x201F: "\"", 0x2020: "+", 0x2021: "++", 0x2022: "*", 0x2023: "*>", 0x2027: ".", 0x2028: "\n",
        0x2029: "\n\n", 0x2030: "%0", 0x2031: "%00", 0x2032: "'", 0x2033: "''", 0x2034: "'''", 0x2035: "`", 0x2036: "``",
        0x2037: "```", 0x2038: "^", 0x2039: "<", 0x203A: ">", 0x203B: "*", 0x203D: "!?", 0x203E: "-", 0x203F: "_",
        0x2040: "-", 0x2041: "^", 0x2042: "***", 0x2043: "--", 0x2044: "/", 0x2045: "-[", 0x2046: "]-", 0x204A: "&",
        0x204B: "PP", 0x204C: "(]", 0x204D: "[)", 0x204E: "*", 0x2052: "%", 0x2053: "~", 0x2057: "''''", 0x20AC: "EUR",
        0x2122: "(tm)",
    ]

    /// `unidecode` as described above.
    public static func asciiFold(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if u.isASCII { out.append(u); continue }
            if let t = table[u.value] { out.append(contentsOf: t.unicodeScalars); continue }
            for d in String(u).decomposedStringWithCompatibilityMapping.unicodeScalars where d.isASCII { out.append(d) }
        }
        return String(out)
    }

    static func isWord(_ u: Unicode.Scalar) -> Bool {
        u == "_" || u.properties.isAlphabetic || u.properties.numericType != nil
    }

    /// `normalize_answer(s)`.
    public static func normalize(_ s: String) -> String {
        let folded = asciiFold(s.lowercased())
        let noPunct = String(String.UnicodeScalarView(folded.unicodeScalars.filter { !PythonText.punctuation.contains($0) }))
        // re.sub(r'\b(a|an|the)\b', ' ', text): whole words only.
        var out = String.UnicodeScalarView()
        var word = String.UnicodeScalarView()
        func flush() {
            let w = String(word)
            if w == "a" || w == "an" || w == "the" { out.append(" ") } else { out.append(contentsOf: word) }
            word = .init()
        }
        for u in noPunct.unicodeScalars {
            if isWord(u) { word.append(u) } else { flush(); out.append(u) }
        }
        flush()
        return PythonText.split(String(out)).joined(separator: " ")
    }
}
