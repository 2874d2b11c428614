/// Turning untrusted bytes (files, stdin) into text for the tokenizers.
public enum TextInput {
    /// Decodes UTF-8, replacing each invalid sequence (maximal subpart, as Python's and Rust's lossy
    /// decoders do) with U+FFFD, and says how many were replaced so callers can report it.
    public static func decodeUTF8<C: Collection>(_ bytes: C) -> (text: String, replaced: Int) where C.Element == UInt8 {
        if let s = String(validating: bytes, as: UTF8.self) { return (s, 0) }
        var decoder = UTF8()
        var it = bytes.makeIterator()
        var scalars = String.UnicodeScalarView()
        var replaced = 0
        loop: while true {
            switch decoder.decode(&it) {
            case .scalarValue(let u): scalars.append(u)
            case .emptyInput: break loop
            case .error: scalars.append("\u{FFFD}"); replaced += 1
            }
        }
        return (String(scalars), replaced)
    }

    /// Splits bytes into lines on `\n`, dropping one `\r` before it (universal newlines), and decodes
    /// each. A final line without `\n` is kept; an empty input gives no lines.
    public static func lines(_ bytes: [UInt8]) -> (lines: [String], replaced: Int) {
        var out: [String] = []
        var replaced = 0
        var start = 0
        bytes.withUnsafeBufferPointer { buf in
            var i = 0
            while i <= buf.count {
                if i == buf.count || buf[i] == 0x0A {
                    if i == buf.count && start == i { break }
                    var end = i
                    if end > start && buf[end - 1] == 0x0D { end -= 1 }
                    let (s, r) = decodeUTF8(UnsafeBufferPointer(rebasing: buf[start..<end]))
                    out.append(s); replaced += r
                    start = i + 1
                }
                i += 1
            }
        }
        return (out, replaced)
    }
}
