import GLMTokenizers

/// A string as Python sees it: a sequence of code points, compared and hashed code point by code
/// point.
///
/// The metrics reproduce Python packages (`rouge_score`, `sacrebleu`) and the official GLM
/// post-processing, which count and compare words as Python `str`s. Swift's `String` compares by
/// canonical equivalence (`"é" == "e\u{301}"`), which would merge n-grams Python keeps apart, so
/// words are kept in this form wherever they are counted or compared.
public struct CodePoints: Hashable, Sendable, CustomStringConvertible {
    public var scalars: [Unicode.Scalar]

    public init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }
    public init<S: StringProtocol>(_ text: S) { scalars = Array(text.unicodeScalars) }

    public var description: String { string }
    public var string: String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }
    public var isEmpty: Bool { scalars.isEmpty }
    public var count: Int { scalars.count }

    public static func == (a: CodePoints, b: CodePoints) -> Bool { a.scalars == b.scalars }
    public func hash(into h: inout Hasher) {
        h.combine(scalars.count)
        for u in scalars { h.combine(u.value) }
    }
}

/// Python `str` methods on code-point arrays, for the metrics, which split, count and compare many
/// words (``PythonText`` has the `String` forms the task readers use).
enum PythonScalars {
    /// `str.isspace` for one code point.
    static func isSpace(_ u: Unicode.Scalar) -> Bool { GLMTokenizer.isPythonSpace(u) }

    /// `str.split()`: runs of non-whitespace.
    static func split<C: Collection>(_ s: C) -> [[Unicode.Scalar]] where C.Element == Unicode.Scalar {
        var out: [[Unicode.Scalar]] = []
        var cur: [Unicode.Scalar] = []
        for u in s {
            if isSpace(u) {
                if !cur.isEmpty { out.append(cur); cur.removeAll(keepingCapacity: true) }
            } else {
                cur.append(u)
            }
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    /// `str.split(sep)` with a non-empty separator: every piece, empty ones included.
    static func split(_ s: [Unicode.Scalar], separator sep: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        precondition(!sep.isEmpty)
        var out: [[Unicode.Scalar]] = []
        var start = 0, i = 0
        while i + sep.count <= s.count {
            if s[i] == sep[0] && s[i..<(i + sep.count)].elementsEqual(sep) {
                out.append(Array(s[start..<i]))
                i += sep.count
                start = i
            } else {
                i += 1
            }
        }
        out.append(Array(s[start...]))
        return out
    }

    /// `str.replace(old, new)`: non-overlapping occurrences, left to right.
    static func replace(_ s: [Unicode.Scalar], _ old: String, _ new: String) -> [Unicode.Scalar] {
        let o = Array(old.unicodeScalars), n = Array(new.unicodeScalars)
        guard !o.isEmpty, s.count >= o.count else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + o.count <= s.count && s[i] == o[0] && s[i..<(i + o.count)].elementsEqual(o) {
                out.append(contentsOf: n)
                i += o.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// `str.strip()`.
    static func strip(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard let a = s.firstIndex(where: { !isSpace($0) }), let b = s.lastIndex(where: { !isSpace($0) }) else { return [] }
        return Array(s[a...b])
    }

    /// `str.rstrip()`.
    static func rstrip(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard let b = s.lastIndex(where: { !isSpace($0) }) else { return [] }
        return Array(s[...b])
    }

    /// `str.lower()`: the full Unicode lowercase mapping of each code point (İ → i + U+0307,
    /// the Kelvin sign → k), with Python's Final_Sigma rule for Σ.
    static func lower(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        for (i, u) in text.enumerated() {
            if u.value < 0x80 {
                out.append(u.value >= 0x41 && u.value <= 0x5A ? Unicode.Scalar(u.value + 32)! : u)
            } else if u.value == 0x3A3 {
                out.append(isFinalSigma(text, i) ? "\u{3C2}" : "\u{3C3}")
            } else {
                out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// CPython's `handle_capital_sigma`: a cased letter before (skipping case-ignorables) and none after.
    private static func isFinalSigma(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, s[j].properties.isCased else { return false }
        j = i + 1
        while j < s.count && s[j].properties.isCaseIgnorable { j += 1 }
        return j == s.count || !s[j].properties.isCased
    }

    /// `str.isdigit()` for one code point (Numeric_Type Decimal or Digit).
    static func isDigit(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.numericType {
        case .decimal?, .digit?: return true
        default: return false
        }
    }

    /// `str.isalpha()` for one code point (general category L*).
    static func isAlpha(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `s.isdigit()` for a whole string (False when empty).
    static func isDigit(_ s: [Unicode.Scalar]) -> Bool { !s.isEmpty && s.allSatisfy(isDigit) }
    /// `s.isalpha()` for a whole string (False when empty).
    static func isAlpha(_ s: [Unicode.Scalar]) -> Bool { !s.isEmpty && s.allSatisfy(isAlpha) }
}
