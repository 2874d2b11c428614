import Foundation
import GLMTokenizers

/// Blank infilling as the official Yahoo Answers setting (docs/official-glm.md §6.3; official
/// `tasks/seq2seq/dataset.py:BlankLMDataset`, `evaluate.py:BlankLMEvaluater`, `config_tasks/seq_blank.sh`).
///
/// - Masking (`mask_text`): `int(n·r)` of the n whitespace words are drawn with Python's
///   `random.Random.sample`, sorted, replaced by `[MASK]`; consecutive masked words merge into one
///   `[MASK]` and one target. Source and targets keep the official leading spaces.
/// - Training layout: Part A = `" " + source` encoded (the `[MASK]` strings become mask ids), cut or
///   padded to `sourceLength`, `sep = sourceLength`. Part B holds *every* blank in order, each
///   `[sop] + " "+target` with targets `target + [eop]`, position = its [MASK]'s index, block
///   positions 1…len+1. The whole sequence is then cut or padded (pad, positions 0) to
///   `sourceLength + int(sourceLength·r)`.
/// - Evaluation layout: Part A + `[sop]` at (first mask index, 1); the test split reads the
///   provided `blank/test.maskratio{r}.blank` files instead of masking.
///
/// The official dataset asserts a BERT tokenizer and, with `--task-mask`, looks for [gMASK] ids
/// where its text has `[MASK]` strings; only the [MASK] form is built here.
public struct BlankInfilling: Sendable {
    public let tokenizer: GLMTokenizer
    public let sourceLength: Int
    public let maskRatio: Double

    public init(tokenizer: GLMTokenizer, sourceLength: Int = 256, maskRatio: Double = 0.1) throws {
        guard sourceLength > 0 else { throw TaskError.setting("source length must be positive, got \(sourceLength)") }
        guard maskRatio >= 0, maskRatio < 1 else { throw TaskError.setting("mask ratio \(maskRatio) outside [0, 1)") }
        self.tokenizer = tokenizer
        self.sourceLength = sourceLength
        self.maskRatio = maskRatio
    }

    /// The training sequence length, `sourceLength + int(sourceLength·r)`.
    public var trainingLength: Int { sourceLength + Int(Double(sourceLength) * maskRatio) }

    // MARK: - Masking

    /// `BlankLMDataset.mask_text`: the masked source (`" w1 [MASK] w4 …"`) and one target per
    /// merged blank (`" w2 w3"`), in order. `rng` advances as the official `self.random` does.
    public static func mask(_ text: String, ratio: Double, rng: inout PythonRandom) -> (source: String, targets: [String]) {
        var words = PythonText.split(text)
        let n = words.count
        let k = Int(Double(n) * ratio)
        let picked = rng.sample(populationSize: n, count: k).sorted()
        var targets: [String] = []
        for (i, idx) in picked.enumerated() {
            if i == 0 || idx != picked[i - 1] + 1 { targets.append("") }
            targets[targets.count - 1] += " " + words[idx]
            words[idx] = "[MASK]"
        }
        var source = ""
        for (i, w) in words.enumerated() {
            if i != 0 && PythonText.equal(w, "[MASK]") && PythonText.equal(words[i - 1], "[MASK]") { continue }
            source += " " + w
        }
        return (source, targets)
    }

    // MARK: - Layouts

    private var mask: Int { tokenizer.commands.mask }

    /// Part A: `" " + source` encoded, cut or padded with pad to ``sourceLength``.
    public func partA(_ source: String) -> [Int] {
        let ids = tokenizer.encode(" " + source)
        return ids.count > sourceLength ? Array(ids.prefix(sourceLength))
            : ids + [Int](repeating: tokenizer.commands.pad, count: sourceLength - ids.count)
    }

    /// The training sample of a masked source and its targets (from ``mask(_:ratio:rng:)``).
    public func training(source: String, targets: [String], id: String = "") throws -> EncodedSample {
        let a = partA(source)
        let maskPositions = a.indices.filter { a[$0] == mask }
        guard maskPositions.count <= targets.count else {
            throw TaskError.data(file: id, line: nil, message: "the source has \(maskPositions.count) [MASK] tokens but \(targets.count) targets")
        }
        let c = tokenizer.commands
        var tokens = a, tg = [Int](repeating: 0, count: a.count), loss = [Int](repeating: 0, count: a.count)
        var pos = Array(0..<a.count), blk = [Int](repeating: 0, count: a.count)
        for (i, m) in maskPositions.enumerated() {
            let t = tokenizer.encode(" " + targets[i])
            tokens += [c.sop] + t
            tg += t + [c.eop]
            loss += [Int](repeating: 1, count: t.count + 1)
            pos += [Int](repeating: m, count: t.count + 1)
            blk += Array(1...(t.count + 1))
        }
        let L = trainingLength
        func fit(_ x: [Int], _ fill: Int) -> [Int] {
            x.count > L ? Array(x.prefix(L)) : x + [Int](repeating: fill, count: L - x.count)
        }
        return EncodedSample(tokens: fit(tokens, c.pad), targets: fit(tg, c.pad), lossMask: fit(loss, 0),
                             positions: fit(pos, 0), blockPositions: fit(blk, 0), sep: a.count, id: id)
    }

    /// The evaluation sample of a source with `[MASK]` blanks: Part A + `[sop]` at the first mask.
    public func evaluation(source: String, id: String = "") throws -> EncodedSample {
        let a = partA(source)
        guard let m = a.firstIndex(of: mask) else {
            throw TaskError.data(file: id, line: nil, message: "no [MASK] left in the first \(sourceLength) tokens of the source")
        }
        return EncodedSample(tokens: a + [tokenizer.commands.sop], targets: [], lossMask: [],
                             positions: Array(0..<a.count) + [m], blockPositions: [Int](repeating: 0, count: a.count) + [1],
                             sep: a.count, id: id)
    }

    // MARK: - Data files

    /// `blanklm_detokenize` after `strip()`: `_UNK` → `[UNK]`, `<blank>` → `[MASK]`.
    public static func clean(_ line: String) -> String {
        var s = Array(PythonText.strip(line).unicodeScalars)
        s = PythonScalars.replace(s, "_UNK", "[UNK]")
        s = PythonScalars.replace(s, "<blank>", "[MASK]")
        return String(String.UnicodeScalarView(s))
    }

    /// The texts of `folder/{train,valid,test}.txt` (the official file names), cleaned.
    public static func texts(folder: URL, split: Seq2SeqSplit) throws -> [String] {
        let stem = split == .dev ? "valid" : split.rawValue
        let lines = try Seq2SeqReader.lines(of: folder.appendingPathComponent("\(stem).txt")).map(clean)
        guard !lines.isEmpty else { throw TaskError.data(file: folder.appendingPathComponent("\(stem).txt").path, line: nil, message: "empty file") }
        return lines
    }

    /// The test pairs: `blank/test.maskratio{r:.1f}.blank` (sources with `<blank>`) against the
    /// originals in `test.txt`. Files of different lengths are an error (the official `zip` would
    /// silently drop the excess).
    public static func testPairs(folder: URL, maskRatio: Double) throws -> [(source: String, reference: String)] {
        let refs = try texts(folder: folder, split: .test)
        let name = "blank/test.maskratio\(String(format: "%.1f", maskRatio)).blank"
        let url = folder.appendingPathComponent(name)
        let sources = try Seq2SeqReader.lines(of: url).map(clean)
        guard sources.count == refs.count else {
            throw TaskError.data(file: url.path, line: nil, message: "has \(sources.count) lines but test.txt has \(refs.count)")
        }
        for (i, s) in sources.enumerated() where !s.contains("[MASK]") {
            throw TaskError.data(file: url.path, line: i + 1, message: "no <blank> in the line")
        }
        return Array(zip(sources, refs)).map { (source: $0.0, reference: $0.1) }
    }

    /// The official train/dev-split masking of whole texts (already ``clean(_:)``ed): each text, in
    /// order, masked by ``mask(_:ratio:rng:)`` from one `random.Random(seed)` (the official
    /// `--seed`, 1234), as `BlankLMDataset` masks each example when it is fetched. The reference is
    /// the text itself.
    public static func masked(_ texts: [String], ratio: Double, seed: UInt64 = 1234) -> [(source: String, reference: String)] {
        var rng = PythonRandom(seed: seed)
        return texts.map { (source: mask($0, ratio: ratio, rng: &rng).source, reference: $0) }
    }

    /// The texts to fill from whatever `url` names, and how many were left out:
    /// - a folder in the official layout: `blank/test.maskratio{r:.1f}.blank` against `test.txt`
    ///   (``testPairs(folder:maskRatio:)``);
    /// - JSON lines with `text`, or a plain text file with one text per line (blank lines skipped):
    ///   each text ``clean(_:)``ed and masked here (``masked(_:ratio:seed:)``), the official
    ///   train/dev masking. A text too short to get a blank at this ratio (`int(n·r) = 0` words) is
    ///   left out and counted, as the official evaluator could not decode it.
    public static func examples(_ url: URL, maskRatio: Double, seed: UInt64 = 1234) throws -> (examples: [BlankInfillingExample], skipped: Int) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw TaskError.data(file: url.path, line: nil, message: "no such file or folder")
        }
        if isDir.boolValue {
            let blank = url.appendingPathComponent("blank/test.maskratio\(String(format: "%.1f", maskRatio)).blank").path
            let pairs = try testPairs(folder: url, maskRatio: maskRatio)
            return (pairs.enumerated().map { i, p in
                BlankInfillingExample(id: "test-\(i)", source: p.source, reference: p.reference, location: "\(blank):\(i + 1)")
            }, 0)
        }
        let texts = try readTexts(url)
        let pairs = masked(texts.map(\.text), ratio: maskRatio, seed: seed)
        var out: [BlankInfillingExample] = []
        for (i, p) in pairs.enumerated() where Int(Double(PythonText.split(p.reference).count) * maskRatio) > 0 {
            out.append(BlankInfillingExample(id: "dev-\(i)", source: p.source, reference: p.reference, location: texts[i].location))
        }
        guard !out.isEmpty else {
            throw TaskError.data(file: url.path, line: nil, message: "no text has enough words for a blank at mask ratio \(maskRatio)")
        }
        return (out, pairs.count - out.count)
    }

    /// Training texts: a text file with one text per line (blank lines skipped) or JSON lines with
    /// `text`, each ``clean(_:)``ed; texts too short for one blank at `maskRatio` are left out.
    public static func trainingTexts(_ url: URL, maskRatio: Double) throws -> [String] {
        let texts = try readTexts(url).map(\.text).filter { Int(Double(PythonText.split($0).count) * maskRatio) > 0 }
        guard !texts.isEmpty else {
            throw TaskError.data(file: url.path, line: nil, message: "no text has enough words for a blank at mask ratio \(maskRatio)")
        }
        return texts
    }

    /// The ``clean(_:)``ed texts of JSON lines (`text`) or of a text file (one per line, blank
    /// lines skipped), with their locations.
    static func readTexts(_ url: URL) throws -> [(text: String, location: String)] {
        var texts: [(text: String, location: String)] = []
        if url.pathExtension == "jsonl" || url.pathExtension == "json" {
            texts = try TaskFile.jsonLines(url).map { (clean(try $0.at("text").string()), "\(url.path):\($0.line)") }
        } else {
            for (i, line) in try Seq2SeqReader.lines(of: url).enumerated() {
                let t = clean(line)
                if !t.isEmpty { texts.append((t, "\(url.path):\(i + 1)")) }
            }
        }
        guard !texts.isEmpty else { throw TaskError.data(file: url.path, line: nil, message: "empty file: no texts") }
        return texts
    }

    // MARK: - Predictions

    /// `BlankLMEvaluater`'s output text: ``assemble(evaluationTokens:generated:)`` decoded, then
    /// `blanklm_fix_tokenization`.
    public func prediction(evaluationTokens: [Int], generated: [Int]) -> String {
        Self.fixTokenization(tokenizer.decode(Self.assemble(evaluationTokens: evaluationTokens, generated: generated,
                                                            commands: tokenizer.commands, maskId: mask)))
    }

    /// `BlankLMEvaluater`'s output ids: the generated stream without eop and pad is split at sop
    /// into blanks; the evaluation input (Part A + sop) has each mask replaced by its blank (masks
    /// beyond the blanks generated vanish), pads dropped and the final sop cut.
    public static func assemble(evaluationTokens: [Int], generated: [Int], commands c: CommandTokens, maskId: Int) -> [Int] {
        var blanks: [[Int]] = [[]]
        for t in generated where t != c.eop && t != c.pad {
            if t == c.sop { blanks.append([]) } else { blanks[blanks.count - 1].append(t) }
        }
        var out: [Int] = []
        var current = 0
        for t in evaluationTokens {
            if t == maskId {
                if current < blanks.count { out += blanks[current] }
                current += 1
            } else if t != c.pad {
                out.append(t)
            }
        }
        return Array(out.dropLast())
    }

    /// `blanklm_fix_tokenization`: rejoin what WordPiece decoding spaces apart.
    public static func fixTokenization(_ text: String) -> String {
        var s = Array(text.unicodeScalars)
        for (a, b) in [("` `", "``"), ("' '", "''"), ("n ' t", "n't"), ("' s", "'s"), ("' m", "'m"), ("' re", "'re"),
                       (". . .", "..."), (" . .", " .."), ("- -", "--"), ("u . s .", "u.s."), ("u . k .", "u.k."),
                       ("e . g .", "e.g.")] {
            s = PythonScalars.replace(s, a, b)
        }
        return String(String.UnicodeScalarView(s))
    }
}

extension PythonRandom {
    /// `random.Random.sample(range(n), k)` (CPython 3.x): a pool swap for small populations, a
    /// rejection set otherwise; the same draws in the same order.
    public mutating func sample(populationSize n: Int, count k: Int) -> [Int] {
        precondition(k >= 0 && k <= n, "sample larger than population or negative")
        var result = [Int](repeating: 0, count: k)
        var setsize = 21
        if k > 5 { setsize += Int(pow(4.0, (log(Double(k * 3)) / log(4.0)).rounded(.up))) }
        if n <= setsize {
            var pool = Array(0..<n)
            for i in 0..<k {
                let j = randbelow(n - i)
                result[i] = pool[j]
                pool[j] = pool[n - i - 1]
            }
        } else {
            var selected = Set<Int>()
            for i in 0..<k {
                var j = randbelow(n)
                while selected.contains(j) { j = randbelow(n) }
                selected.insert(j)
                result[i] = j
            }
        }
        return result
    }
}
