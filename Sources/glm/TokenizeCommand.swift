import ArgumentParser
import Foundation
import GLMSystem
import GLMTokenizers

/// `glm tokenize`: text to GLM ids (or token strings), one JSON array per input line.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Turn text into GLM token ids, one JSON array per input line.",
        discussion: """
            Reads TEXT arguments, or stdin lines when none are given. Command-token strings such as [MASK], \
            [gMASK] and <|endoftext|> inside the text become their GLM ids. Invalid UTF-8 is replaced with \
            U+FFFD and counted on stderr.

            Examples:
              glm tokenize --tokenizer Resources/tokenizers/bert-base-uncased "Hello [MASK] world"
              echo "GLM is a [gMASK]" | glm tokenize --tokenizer Resources/tokenizers/gpt2 --tokens
              glm tokenize --tokenizer Resources/tokenizers/gpt2 --bench Resources/corpus/train/*.txt
            """)

    @Option(name: .long, help: "Folder with the tokenizer files (vocab.txt, encoder.json + vocab.bpe, vocab.json + merges.txt, *.model, tokenizer.json).")
    var tokenizer: String

    @Flag(name: .long, help: "Print token strings instead of ids.")
    var tokens = false

    @Flag(name: .long, help: "Wrap each line as [CLS] … eos, as the official GLM code does.")
    var addSpecial = false

    @Flag(name: .long, help: "Treat the arguments as files, encode every line, and report lines, tokens and tokens/s (one thread) instead of printing ids.")
    var bench = false

    @Argument(help: "Text to tokenize (each argument is one line); with --bench, files.")
    var text: [String] = []

    func run() throws {
        let tok = try GLMTokenizer(folder: URL(fileURLWithPath: tokenizer)) // TokenizerError names the file
        if bench { try runBench(tok); return }
        var out = ""
        func emit(_ line: String) {
            let ids = tok.encode(line, addSpecial: addSpecial)
            if tokens {
                out += "[" + ids.map { JSONValue.quote(tok.tokenString($0) ?? "") }.joined(separator: ",") + "]\n"
            } else {
                out += "[" + ids.map(String.init).joined(separator: ",") + "]\n"
            }
            if out.utf8.count > 1 << 16 { FileHandle.standardOutput.write(Data(out.utf8)); out = "" }
        }
        if !text.isEmpty {
            text.forEach(emit)
        } else {
            // Streams stdin in chunks so a corpus of any size can be piped through.
            var pending = [UInt8]()
            var replaced = 0
            while true {
                let chunk = FileHandle.standardInput.readData(ofLength: 1 << 20)
                let end = chunk.isEmpty
                pending.append(contentsOf: chunk)
                let cut = end ? pending.count : (pending.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0)
                if cut > 0 {
                    let (lines, r) = TextInput.lines(Array(pending[..<cut]))
                    replaced += r
                    lines.forEach(emit)
                    pending.removeFirst(cut)
                }
                if end { break }
            }
            if replaced > 0 { FileHandle.standardError.write(Data("glm tokenize: replaced \(replaced) invalid UTF-8 sequence(s) with U+FFFD\n".utf8)) }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    private func runBench(_ tok: GLMTokenizer) throws {
        guard !text.isEmpty else { throw ValidationError("--bench needs one or more files") }
        var lines: [String] = []
        var replaced = 0
        var bytes = 0
        for path in text {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(path): cannot read") }
            bytes += data.count
            let (l, r) = TextInput.lines([UInt8](data))
            lines += l; replaced += r
        }
        if replaced > 0 { FileHandle.standardError.write(Data("glm tokenize: replaced \(replaced) invalid UTF-8 sequence(s) with U+FFFD\n".utf8)) }
        // Two paths: the text tokenizer alone (the same work as the Python `tokenizers` reference) and
        // the full GLM encode that `glm tokenize` prints (command-token split; blank lines give []).
        for (label, encode) in [("text", { (s: String) in tok.text.encode(s).count }), ("glm", { (s: String) in tok.encode(s).count })] {
            var best = Double.infinity
            var count = 0
            for _ in 0..<3 { // the first pass also fills the BPE word cache, as a long-running job would
                let t0 = DispatchTime.now().uptimeNanoseconds
                count = 0
                for line in lines { count += encode(line) }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            print("swift-glm \(tok.family.rawValue) (\(label)): \(lines.count) lines, \(bytes) bytes, \(count) tokens, \(String(format: "%.3f", best)) s, \(String(format: "%.0f", Double(count) / best)) tokens/s")
        }
    }
}
