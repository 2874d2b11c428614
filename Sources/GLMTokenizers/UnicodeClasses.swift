import Foundation

/// Character classes exactly as Hugging Face `tokenizers` (Rust) defines them for BERT and GPT-2.
/// Scalar properties are looked up once per BMP code point and kept in a table, because
/// `Unicode.Scalar.Properties` is too slow to consult for every character of a corpus.
enum UnicodeClasses {
    // Bit flags per scalar.
    static let whitespace: UInt8 = 1      // White_Space property (Rust `char::is_whitespace`, Oniguruma `\s`)
    static let letter: UInt8 = 2          // \p{L}
    static let number: UInt8 = 4          // \p{N}
    // The three BERT classes below follow the Rust `unicode_categories` crate that `tokenizers` uses:
    // its tables are Unicode 8.0 and have no "unassigned" entries, so scalars assigned later (or never)
    // are in none of these classes there, and must be in none here.
    static let punctuation: UInt8 = 8     // BERT: ASCII punctuation or Unicode P*
    static let control: UInt8 = 16        // BERT: Cc Cf Co Cs except \t \n \r
    static let nonspacingMark: UInt8 = 32 // Mn

    private static func compute(_ v: UInt32) -> UInt8 {
        guard let s = Unicode.Scalar(v) else { return control } // surrogate code points
        let p = s.properties
        var f: UInt8 = 0
        if p.isWhitespace { f |= whitespace }
        let inBertTables = p.age.map { $0.major < 8 || ($0.major == 8 && $0.minor == 0) } ?? false
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            f |= letter
        case .decimalNumber, .letterNumber, .otherNumber:
            f |= number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            if inBertTables { f |= punctuation }
        case .control, .format, .privateUse, .surrogate:
            if inBertTables && v != 9 && v != 10 && v != 13 { f |= control }
        case .nonspacingMark:
            if inBertTables { f |= nonspacingMark }
        default: break
        }
        // Scalars whose general category changed after Unicode 8.0: their 8.0 class, as the crate has it.
        switch v {
        case 0x166D, 0x111C9: f = (f & ~(nonspacingMark | control)) | punctuation // Po in 8.0
        case 0x1734: f = (f & ~punctuation) | nonspacingMark                     // Mn in 8.0
        case 0x1885, 0x1886, 0xA9BD: f &= ~(nonspacingMark | punctuation | control) // Lo/Mc in 8.0
        case 0x1171E: f = (f & ~(punctuation | control)) | nonspacingMark        // Mn in 8.0 (Mc in later tables)
        default: break
        }
        if v < 128 {
            let isAlnum = (v >= 48 && v <= 57) || (v >= 65 && v <= 90) || (v >= 97 && v <= 122)
            if v >= 33 && v <= 126 && !isAlnum { f |= punctuation }
        }
        return f
    }

    static let bmp: [UInt8] = (0..<0x10000).map { compute(UInt32($0)) }

    @inline(__always)
    static func flags(_ v: UInt32) -> UInt8 {
        v < 0x10000 ? bmp.withUnsafeBufferPointer { $0[Int(v)] } : compute(v)
    }

    /// BERT's "Chinese character" ranges, as in `tokenizers` (note 0x2B920, not 0x2B820, as its source has it).
    @inline(__always)
    static func isCJK(_ v: UInt32) -> Bool {
        (v >= 0x4E00 && v <= 0x9FFF) || (v >= 0x3400 && v <= 0x4DBF) || (v >= 0x20000 && v <= 0x2A6DF)
            || (v >= 0x2A700 && v <= 0x2B73F) || (v >= 0x2B740 && v <= 0x2B81F) || (v >= 0x2B920 && v <= 0x2CEAF)
            || (v >= 0xF900 && v <= 0xFAFF) || (v >= 0x2F800 && v <= 0x2FA1F)
    }
}

/// Decodes one scalar from valid UTF-8 (Swift strings are always valid) and returns its length.
@inline(__always)
func decodeScalar(_ p: UnsafePointer<UInt8>, _ i: Int) -> (UInt32, Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
    if b0 < 0xF0 { return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3) }
    return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6 | UInt32(p[i + 3] & 0x3F), 4)
}

@inline(__always)
func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
    if v < 0x80 { out.append(UInt8(v)) }
    else if v < 0x800 { out.append(UInt8(0xC0 | (v >> 6))); out.append(UInt8(0x80 | (v & 0x3F))) }
    else if v < 0x10000 {
        out.append(UInt8(0xE0 | (v >> 12))); out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
    } else {
        out.append(UInt8(0xF0 | (v >> 18))); out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
    }
}

/// Length of the UTF-8 sequence starting at `i`, from its lead byte, never past `n`. Used where bytes
/// come from a model file (normaliser output) rather than from a Swift string, so they are not
/// trusted to be valid; a stray continuation byte counts as one.
@inline(__always)
func scalarLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
    let b = p[i]
    let len = b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
    return min(len, n - i)
}
