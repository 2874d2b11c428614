import Foundation
import GLM
import GLMTokenizers

/// A prompt's fills as they stream in, rendered as text: the whole prompt with the fills so far
/// (``view()``, for the `/v1/fill` events and the page) or the text generated so far
/// (``generatedText()``, for completions). Blanks fill left to right, so both only grow at their
/// end while a fill streams (up to tokenizers whose decoding of a prefix is not a prefix, which the
/// callers tolerate: a view carries the whole text each time).
struct FillProgress {
    let context: [Int]
    let maskPositions: [Int]
    let tokenizer: GLMTokenizer
    /// Whether the prompt had blanks of its own (else the generation mask was appended and the
    /// completion is the continuation alone).
    let promptHasBlanks: Bool
    private(set) var fills: [[Int]] = []

    init(context: [Int], tokens: BlankFillingTokens, tokenizer: GLMTokenizer, promptHasBlanks: Bool) {
        self.context = context
        maskPositions = context.indices.filter { tokens.masks.contains(context[$0]) }
        self.tokenizer = tokenizer
        self.promptHasBlanks = promptHasBlanks
    }

    mutating func add(blank: Int, id: Int) {
        while fills.count <= blank { fills.append([]) }
        fills[blank].append(id)
    }

    /// Takes the final fills (beam search streams none; a length stop's last token is included).
    mutating func finish(_ result: FillResult) { fills = result.fills.map(\.tokens) }

    /// The fill of blank `b`, as ``FilledText`` would render it.
    func fillText(_ b: Int) -> String { b < fills.count ? tokenizer.decode(fills[b]) : "" }

    /// Context ids with the begun fills spliced in, without `[CLS]` and the final eos, and where
    /// each begun fill's ids lie. `throughCurrent`: only up to the end of the last begun fill (up
    /// to the first blank when none has begun); otherwise the whole context, later masks kept.
    private func spliced(throughCurrent: Bool) -> (ids: [Int], ranges: [Range<Int>]) {
        var ids: [Int] = [], ranges: [Range<Int>] = []
        var next = 0
        for (k, mp) in maskPositions.enumerated() where k < fills.count {
            ids += context[next..<mp]
            ranges.append(ids.count..<(ids.count + fills[k].count))
            ids += fills[k]
            next = mp + 1
        }
        if !throughCurrent {
            ids += context[next...]
        } else if fills.isEmpty, let first = maskPositions.first {
            ids += context[..<first]
        }
        if ids.first == tokenizer.commands.cls {
            ids.removeFirst()
            ranges = ranges.map { ($0.lowerBound - 1)..<($0.upperBound - 1) }
        }
        if !throughCurrent, ids.last == tokenizer.commands.eos { ids.removeLast() }
        return (ids, ranges)
    }

    /// The prompt as it stands: its text with the fills so far and the later blanks as their mask
    /// tokens, and where each begun fill lies in that text.
    func view() -> FillView {
        let (ids, ranges) = spliced(throughCurrent: false)
        let text = tokenizer.decode(ids)
        let spans: [FillView.Span] = ranges.enumerated().compactMap { k, r in
            let before = tokenizer.decode(Array(ids[..<r.lowerBound]))
            let through = tokenizer.decode(Array(ids[..<r.upperBound]))
            guard through.unicodeScalars.starts(with: before.unicodeScalars), text.unicodeScalars.starts(with: through.unicodeScalars) else { return nil }
            // The joining space (WordPiece puts one between words) belongs to neither side.
            let added = through.unicodeScalars.dropFirst(before.unicodeScalars.count)
            let lead = added.prefix { $0.properties.isWhitespace }
            let start = before.utf16.count + String(String.UnicodeScalarView(lead)).utf16.count
            return FillView.Span(blank: k, start: min(start, through.utf16.count), end: through.utf16.count)
        }
        return FillView(text: text, fills: spans)
    }

    /// The completion text so far: the continuation for a prompt without blanks, else the prompt
    /// with its fills up to the end of the current fill (the text after it can still change). A byte-level token that ends inside a
    /// UTF-8 sequence is held back (U+FFFD at the end).
    func generatedText() -> String {
        var s: String
        if promptHasBlanks {
            s = tokenizer.decode(spliced(throughCurrent: true).ids)
        } else {
            s = fillText(0)
        }
        while s.unicodeScalars.last == "\u{FFFD}" { s.unicodeScalars.removeLast() }
        return s
    }
}

/// A prompt with its fills so far: the text, and each begun fill's place in it as UTF-16 offsets
/// (JavaScript string indices), `[start, end)`.
public struct FillView: Codable, Sendable, Equatable {
    /// Where blank `blank`'s fill lies in ``text``.
    public struct Span: Codable, Sendable, Equatable {
        public var blank: Int
        public var start: Int
        public var end: Int
    }
    public var text: String
    public var fills: [Span]
}

/// Turns a growing text into appended pieces, and cuts it at the first stop sequence. A piece is
/// only emitted once no stop sequence could start inside it.
struct TextDeltas {
    let stops: [String]
    private(set) var emitted: [Unicode.Scalar] = []
    private(set) var stopped = false

    init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// The text appended since the last call, given the whole `text` so far; `final` flushes what
    /// was held back. Sets ``stopped`` when a stop sequence appears (the text ends before it).
    mutating func next(_ text: String, final: Bool = false) -> String {
        guard !stopped else { return "" }
        var s = Array(text.unicodeScalars)
        var hold = 0
        if let cut = firstStop(in: s) {
            s = Array(s[..<cut])
            stopped = true
        } else if !final {
            // Hold back a tail that may be the start of a stop sequence.
            for stop in stops {
                let t = Array(stop.unicodeScalars)
                for n in stride(from: min(t.count - 1, s.count), through: 1, by: -1) where Array(s.suffix(n)) == Array(t.prefix(n)) {
                    hold = max(hold, n)
                    break
                }
            }
        }
        let ready = s.count - hold
        guard ready > emitted.count, s.starts(with: emitted) else { return "" }
        let delta = s[emitted.count..<ready]
        emitted = Array(s[..<ready])
        return String(String.UnicodeScalarView(delta))
    }

    /// The text emitted so far.
    var text: String { String(String.UnicodeScalarView(emitted)) }

    private func firstStop(in s: [Unicode.Scalar]) -> Int? {
        var best: Int?
        for stop in stops {
            let t = Array(stop.unicodeScalars)
            guard t.count <= s.count else { continue }
            for i in 0...(s.count - t.count) where s[i] == t[0] && Array(s[i..<(i + t.count)]) == t {
                if best.map({ i < $0 }) ?? true { best = i }
                break
            }
        }
        return best
    }
}
