import ArgumentParser
import Foundation
import GLMData
import GLMSystem
import GLMTokenizers

/// `glm batches`: collated pretraining batches as JSON lines, or shown for a person.
struct BatchesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batches",
        abstract: "Write or show collated blank-infilling batches from a shard folder.",
        discussion: """
        Each JSON line is one sample: input_ids, position_ids ([2][S]), attention_mask (the sample's sep), \
        targets, loss_mask, mode, plus its batch and row. Batch k is a pure function of (--seed, k).
        Objectives: token, sentence, document, or a preset: \(CollatorConfig.presetNames.dropFirst(3).joined(separator: ", ")).

        Examples:
          glm batches --data data/corpus --objective token --count 2 --show
          glm batches --data data/corpus --objective glm-10b --count 100 --seed 7 --output batches.jsonl
        """)

    @Option(name: .long, help: "Shard folder made by `glm prepare`.")
    var data: String

    @Option(name: .long, help: "Tokenizer folder (default: the one recorded when the shards were prepared).")
    var tokenizer: String?

    @Option(name: .long, help: "token | sentence | document | a preset (glm-base, glm-doc, glm-10b, …).")
    var objective: String = "token"

    @Option(name: .long, help: "Number of batches.")
    var count: Int = 2

    @Option(name: .long, help: "Samples per batch.")
    var batchSize: Int = 4

    @Option(name: .long, help: "Packing length (--seq-length of the official code).")
    var seqLength: Int = 256

    @Option(name: .long, help: "Seed of the data stream.")
    var seed: UInt64 = 1234

    @Option(name: .long, help: "First batch index (to look at where a run resumes).")
    var start: Int = 0

    @Flag(name: .long, help: "Keep Part B spans in text order (official --no-shuffle-block).")
    var noShuffle = false

    @Option(name: .long, help: "JSON-lines output file.")
    var output: String?

    @Flag(name: .long, help: "Print each sample for a person: Part A with its masks, then each span.")
    var show = false

    func run() throws {
        guard output != nil || show else { throw ValidationError("pass --output <file.jsonl>, --show, or both") }
        guard var config = CollatorConfig.named(objective) else {
            throw ValidationError("unknown --objective '\(objective)'; use one of \(CollatorConfig.presetNames.joined(separator: ", "))")
        }
        if noShuffle { config.shuffleBlocks = false }
        let folder = URL(fileURLWithPath: data)
        let manifest = try ShardManifest.read(folder: folder)
        let tokFolder = try manifest.tokenizerFolder(shardFolder: folder, override: tokenizer.map { URL(fileURLWithPath: $0) })
        let tok: GLMTokenizer
        do { tok = try GLMTokenizer(folder: tokFolder) } catch {
            throw ValidationError("cannot load the tokenizer in \(tokFolder.path) for shard folder \(data): \(error)")
        }
        let ds = try ShardDataset(folder: folder, tokenizerIdentity: tok.identity)
        let collator = try BlockCollator(config: config, dataset: ds, seqLength: seqLength)
        var lines = [String]()
        for k in start..<(start + count) {
            let b = BatchLoader.makeBatch(k, dataset: ds, collator: collator, batchSize: batchSize, seed: seed)
            lines += BatchFormat.jsonLines(b, batchIndex: k)
            if show {
                for r in 0..<b.batchSize {
                    print("── batch \(k) sample \(r) " + String(repeating: "─", count: 40))
                    print(BatchFormat.describe(b, row: r, commands: ds.commands) { tok.decode($0) }, terminator: "")
                }
            }
        }
        if let output {
            let url = URL(fileURLWithPath: output)
            do { try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: url) } catch let e as SystemError {
                throw GLMDataError.cannotWrite(path: url.path, reason: e.reason)
            }
            if !show { print("wrote \(lines.count) samples of \(count) batches to \(output)") }
        }
    }
}
