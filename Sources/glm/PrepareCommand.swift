import ArgumentParser
import Foundation
import GLMData
import GLMTokenizers

/// `glm prepare`: a text corpus → memory-mapped token shards (all logic in `GLMData.CorpusPreparer`).
struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Tokenise a text corpus into memory-mapped shards for pretraining.",
        discussion: """
        Inputs are files, folders (walked recursively, in sorted order) and .jsonl files with a "text" field \
        per line. Plain text is one document per file, or per blank-line-separated block with --split blank-line. \
        Empty, binary and unreadable files are skipped and counted; invalid UTF-8 is replaced and counted.

        Examples:
          glm prepare --input corpus/ --tokenizer models/glm-large --output data/corpus
          glm prepare --input a.jsonl b.jsonl --tokenizer models/glm-10b --output data/web --split blank-line
        """)

    @Option(name: .long, parsing: .upToNextOption, help: "Files, folders or .jsonl files to read.")
    var input: [String]

    @Option(name: .long, help: "Tokenizer folder (vocab.txt, encoder.json+vocab.bpe, or SentencePiece model).")
    var tokenizer: String

    @Option(name: .long, help: "Output shard folder (created; a shard folder there is replaced only once the new shards are complete).")
    var output: String

    @Option(name: .long, help: "Plain-text documents: 'file' (one per file) or 'blank-line' (one per block).")
    var split: String = "file"

    @Option(name: .long, help: "Tokenising threads (default: all cores).")
    var workers: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Tokens per shard file.")
    var shardTokens: Int = 1 << 28

    @Flag(name: .long, help: "No progress bar.")
    var quiet = false

    func run() throws {
        guard let mode = DocumentSplit(rawValue: split) else {
            throw ValidationError("--split must be 'file' or 'blank-line', not '\(split)'")
        }
        let folder = URL(fileURLWithPath: tokenizer)
        let tok: GLMTokenizer
        do { tok = try GLMTokenizer(folder: folder) } catch {
            throw ValidationError("cannot load the tokenizer in \(tokenizer): \(error)")
        }
        let data = DataTokenizer(tok, folder: folder)
        let bar = quiet ? nil : ProgressBar(label: "prepare")
        let m = try CorpusPreparer.prepare(
            inputs: input.map { URL(fileURLWithPath: $0) }, tokenizer: data, output: URL(fileURLWithPath: output),
            options: PrepareOptions(split: mode, workers: workers, maxTokensPerShard: shardTokens)) { p in
            bar?.update(done: p.bytesDone, total: p.bytesTotal,
                        suffix: String(format: "bytes (%.1f/%.1f MB), %d docs, %d tokens",
                                       Double(p.bytesDone) / 1e6, Double(p.bytesTotal) / 1e6, p.documents, p.tokens))
        }
        bar?.finish()
        let c = m.counts
        print("wrote \(m.shards.count) shard(s) to \(output): \(c.documents) documents, \(c.tokens) tokens (\(m.dtype)) from \(c.files) files")
        let skipped = [("empty files", c.skippedEmptyFiles), ("binary files", c.skippedBinaryFiles),
                       ("unreadable files", c.skippedUnreadableFiles), ("empty documents", c.skippedEmptyDocuments),
                       ("invalid JSON lines", c.invalidJSONLines), ("invalid UTF-8 sequences replaced", c.invalidUTF8Replacements)]
            .filter { $0.1 > 0 }
        if !skipped.isEmpty { print("skipped: " + skipped.map { "\($0.1) \($0.0)" }.joined(separator: ", ")) }
    }
}
