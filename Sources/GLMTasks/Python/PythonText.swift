import Foundation
import GLMTokenizers

/// The Python string operations the official readers and patterns apply (`str.split()`,
/// `rstrip(string.punctuation)`, `s[0].lower() + s[1:]`, slicing by code point, sorting sets of
/// strings), so that a text reaches the tokenizer exactly as it does in the official code.
/// Python strings are sequences of code points: everything here works on Unicode scalars, never on
/// Swift's grapheme clusters or its canonical-equivalence comparisons.
public enum PythonText {
    /// `string.punctuation`: the 32 ASCII punctuation characters.
    public static let punctuation: Set<Unicode.Scalar> = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)

    /// `s.rstrip(chars)`.
    public static func rstrip(_ s: String, _ chars: Set<Unicode.Scalar>) -> String {
        var v = s.unicodeScalars
        while let last = v.last, chars.contains(last) { v.removeLast() }
        return String(v)
    }

    /// `s.rstrip()` (Python whitespace).
    public static func rstripSpace(_ s: String) -> String {
        var v = s.unicodeScalars
        while let last = v.last, GLMTokenizer.isPythonSpace(last) { v.removeLast() }
        return String(v)
    }

    /// `s.strip()` (Python whitespace).
    public static func strip(_ s: String) -> String {
        var v = Substring(rstripSpace(s)).unicodeScalars
        while let first = v.first, GLMTokenizer.isPythonSpace(first) { v.removeFirst() }
        return String(v)
    }

    /// `PVP.remove_final_punc`: `s.rstrip(string.punctuation)`.
    public static func removeFinalPunctuation(_ s: String) -> String { rstrip(s, punctuation) }

    /// `s.split()`: runs of Python whitespace separate words; no empty words.
    public static func split(_ s: String) -> [String] {
        var words: [String] = []
        var cur = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if GLMTokenizer.isPythonSpace(u) {
                if !cur.isEmpty { words.append(String(cur)); cur = .init() }
            } else { cur.append(u) }
        }
        if !cur.isEmpty { words.append(String(cur)) }
        return words
    }

    /// `s.split(sep)` for a non-empty separator.
    public static func split(_ s: String, separator: String) -> [String] {
        let t = Array(s.unicodeScalars), p = Array(separator.unicodeScalars)
        precondition(!p.isEmpty, "empty separator")
        var parts: [String] = []
        var start = 0, i = 0
        while i + p.count <= t.count {
            if t[i..<(i + p.count)].elementsEqual(p) {
                parts.append(String(String.UnicodeScalarView(t[start..<i])))
                i += p.count; start = i
            } else { i += 1 }
        }
        parts.append(String(String.UnicodeScalarView(t[start...])))
        return parts
    }

    /// `PVP.lowercase_first`: `s[0].lower() + s[1:]`; nil for the empty string (where Python raises).
    public static func lowercaseFirst(_ s: String) -> String? {
        guard let first = s.unicodeScalars.first else { return nil }
        return String(first).lowercased() + String(s.unicodeScalars.dropFirst())
    }

    /// `data_utils/corpora.py:punctuation_standardization`: curly quotes and the en dash to ASCII.
    public static func standardizePunctuation(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            switch u.value {
            case 0x201C, 0x201D: out.append("\"")
            case 0x2018, 0x2019: out.append("'")
            case 0x2013: out.append("-")
            default: out.append(u)
            }
        }
        return String(out)
    }

    /// `s[start:end]` by code point, with Python's clamping and negative indices.
    public static func slice(_ s: String, _ start: Int, _ end: Int) -> String {
        let v = Array(s.unicodeScalars)
        let (a, b) = sliceBounds(count: v.count, start, end)
        return a < b ? String(String.UnicodeScalarView(v[a..<b])) : ""
    }

    /// Python's slice bounds for `[start:end]` on a sequence of `count` elements.
    public static func sliceBounds(count: Int, _ start: Int, _ end: Int) -> (Int, Int) {
        func clamp(_ i: Int) -> Int {
            let j = i < 0 ? i + count : i
            return Swift.min(Swift.max(j, 0), count)
        }
        return (clamp(start), clamp(end))
    }

    /// Python's `seq[i]` index: negative counts from the end; nil when out of range (IndexError).
    public static func index(_ i: Int, count: Int) -> Int? {
        let j = i < 0 ? i + count : i
        return j >= 0 && j < count ? j : nil
    }

    /// Python string equality: code point by code point (Swift's `==` would equate canonically
    /// equivalent strings such as a precomposed "é" and "e" + U+0301).
    public static func equal(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.elementsEqual(b.unicodeScalars)
    }

    /// Python's `a < b` for strings: code point order.
    public static func less(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }

    /// `sorted(set(strings))`: distinct by code points, sorted by code points.
    public static func sortedSet(_ strings: [String]) -> [String] {
        var seen = Set<[UInt32]>()
        var out: [String] = []
        for s in strings where seen.insert(s.unicodeScalars.map(\.value)).inserted { out.append(s) }
        return out.sorted(by: less)
    }

    /// The distinct strings of `strings` in first-appearance order (code point equality).
    public static func distinct(_ strings: [String]) -> [String] {
        var seen = Set<[UInt32]>()
        return strings.filter { seen.insert($0.unicodeScalars.map(\.value)).inserted }
    }
}
