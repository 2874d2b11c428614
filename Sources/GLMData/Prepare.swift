import Foundation
import Dispatch
import GLMSystem

/// How `glm prepare` cuts plain-text files into documents. (`.jsonl` files always give one document
/// per line, from its `text` field — the official corpus format.)
public enum DocumentSplit: String, Sendable, CaseIterable, Codable {
    /// Each file is one document (books, articles).
    case file
    /// Each block separated by one or more blank lines is a document (paragraph-per-document corpora).
    case blankLine = "blank-line"
}

/// Settings of ``CorpusPreparer``.
public struct PrepareOptions: Sendable {
    public var split: DocumentSplit
    /// Threads that tokenise in parallel; output does not depend on this.
    public var workers: Int
    /// A shard is closed once it holds this many tokens (documents are never split across shards).
    public var maxTokensPerShard: Int
    /// Text (in UTF-8 bytes) tokenised per parallel round; bounds memory on large corpora.
    public var roundBytes: Int
    /// `.jsonl` files are read in chunks of this many bytes (cut at line ends), never whole.
    public var readChunkBytes: Int

    public init(split: DocumentSplit = .file, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                maxTokensPerShard: Int = 1 << 28, roundBytes: Int = 1 << 20, readChunkBytes: Int = 8 << 20) {
        self.split = split; self.workers = max(1, workers)
        self.maxTokensPerShard = max(1, maxTokensPerShard); self.roundBytes = max(1, roundBytes)
        self.readChunkBytes = max(1, readChunkBytes)
    }
}

/// Progress of a ``CorpusPreparer`` run, reported after each tokenised round.
public struct PrepareProgress: Sendable {
    public var bytesDone: Int
    public var bytesTotal: Int
    public var documents: Int
    public var tokens: Int
}

/// Text corpus → token shards: the library behind `glm prepare`.
///
/// Reads files and folders (recursively, in sorted path order so output is deterministic), plain text
/// or `.jsonl` with a `text` field, tokenises on all cores, and writes memory-mappable shards:
/// `shard-NNNNN.bin` (little-endian `uint16` ids when the vocabulary fits, else `uint32`),
/// `shard-NNNNN.idx` (`uint64` document offsets) and `manifest.json`. Bad input never aborts a run:
/// empty, binary or unreadable files, empty documents and broken JSON lines are skipped and counted;
/// invalid UTF-8 is replaced with U+FFFD and counted.
public enum CorpusPreparer {
    /// The input files that `inputs` name, sorted; folders are walked recursively, hidden files skipped.
    public static func listFiles(_ inputs: [URL]) throws -> [URL] {
        guard !inputs.isEmpty else { throw GLMDataError.noInputs }
        let fm = FileManager.default
        var out = [URL]()
        for input in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input.path, isDirectory: &isDir) else {
                throw GLMDataError.inputNotFound(path: input.path)
            }
            if isDir.boolValue {
                guard let e = fm.enumerator(at: input, includingPropertiesForKeys: [.isRegularFileKey],
                                            options: [.skipsHiddenFiles]) else {
                    throw GLMDataError.unreadable(path: input.path, reason: "cannot list folder")
                }
                var found = [URL]()
                for case let url as URL in e {
                    if (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true { found.append(url) }
                }
                out += found.sorted { $0.path < $1.path }
            } else {
                out.append(input)
            }
        }
        return out
    }

    /// Tokenises `inputs` into a shard folder at `output` and returns its manifest.
    ///
    /// Nothing at `output` changes until the new shards are complete: they are built in a hidden
    /// sibling folder which then replaces `output` in one step (``AtomicFolder``). A run that fails —
    /// no documents in the inputs, a tokenizer error, a full disk — leaves the shards already there
    /// untouched. While it runs, an exclusive lock (`.<name>.lock` beside `output`, naming this PID)
    /// makes a second `prepare` of the same folder fail at once instead of mixing shards. An output
    /// folder inside an input folder is left out of the inputs.
    ///
    /// - Throws: ``GLMDataError`` — `noInputs`, `inputNotFound`, `inputIsOutput` (an input is the
    ///   output folder or inside it), `outputNotShards` (the folder holds files that are not shards),
    ///   `noDocuments`, `locked`, `cannotWrite`, `tokenIdOutOfRange`.
    /// - Parameter progress: called on the calling thread after every round (for a progress bar).
    @discardableResult
    public static func prepare(inputs: [URL], tokenizer: DataTokenizer, output: URL,
                               options: PrepareOptions = PrepareOptions(),
                               progress: ((PrepareProgress) -> Void)? = nil) throws -> ShardManifest {
        let target = output.standardizedFileURL.resolvingSymlinksInPath()
        let files = try listFiles(inputs)
        for input in inputs {
            let i = input.standardizedFileURL.resolvingSymlinksInPath().path
            if i == target.path || i.hasPrefix(target.path + "/") {
                throw GLMDataError.inputIsOutput(input: input.path, output: output.path)
            }
        }
        try checkReplaceable(target, shown: output.path)
        let lock: RunLock
        do { lock = try RunLock.acquire(replacing: target, purpose: "glm prepare") } catch SystemError.locked(_, let holder) {
            throw GLMDataError.locked(path: output.path, holder: holder)
        } catch let e as SystemError {
            throw GLMDataError.cannotWrite(path: output.path, reason: "\(e)")
        }
        defer { lock.release() }
        // An output folder inside an input folder is not read as input (nor its temporaries).
        let inside = target.path + "/"
        let siblings = target.deletingLastPathComponent().path + "/." + target.lastPathComponent + "."
        let corpus = files.filter {
            let p = $0.standardizedFileURL.resolvingSymlinksInPath().path
            return !p.hasPrefix(inside) && !p.hasPrefix(siblings)
        }
        var manifest: ShardManifest?
        do {
            try AtomicFolder.replace(target) { tmp in
                manifest = try build(files: corpus, tokenizer: tokenizer, folder: tmp, shownOutput: output.path,
                                     options: options, progress: progress)
            }
        } catch let e as SystemError {
            throw GLMDataError.cannotWrite(path: output.path, reason: "\(e)")
        }
        guard let manifest else { throw GLMDataError.cannotWrite(path: output.path, reason: "no manifest was written") }
        return manifest
    }

    /// An existing output may be replaced only when it is a shard folder (it has a manifest, or
    /// holds only shard files) or is empty: a typo in `--output` must not delete someone's documents.
    static func checkReplaceable(_ folder: URL, shown: String) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir) else { return }
        guard isDir.boolValue else { throw GLMDataError.outputNotShards(path: shown, reason: "it is a file") }
        let names = (try? fm.contentsOfDirectory(atPath: folder.path)) ?? []
        if names.contains("manifest.json") { return }
        let foreign = names.filter { n in
            !(n == "manifest.json" || (n.hasPrefix("shard-") && (n.hasSuffix(".bin") || n.hasSuffix(".idx") || n.hasSuffix(".tmp")))
              || n == "manifest.json.tmp")
        }.sorted()
        if !foreign.isEmpty {
            throw GLMDataError.outputNotShards(path: shown, reason: "it holds \(foreign.prefix(3).joined(separator: ", "))\(foreign.count > 3 ? ", …" : "")")
        }
    }

    /// Tokenises `files` into the new, empty `folder`: shards, then the manifest.
    static func build(files: [URL], tokenizer: DataTokenizer, folder output: URL, shownOutput: String,
                      options: PrepareOptions, progress: ((PrepareProgress) -> Void)?) throws -> ShardManifest {
        let manifestURL = output.appendingPathComponent("manifest.json")
        let wide = tokenizer.numTokens > Int(UInt16.max) + 1
        var counts = ShardManifest.Counts()
        let bytesTotal = files.reduce(0) { acc, url in
            acc + ((try? url.resourceValues(forKeys: [.fileSizeKey]))?.fileSize ?? 0)
        }
        let writer = ShardWriter(folder: output, wide: wide, maxTokensPerShard: options.maxTokensPerShard)
        var pending = [(text: String, label: String)]()
        var pendingBytes = 0
        var bytesDone = 0

        func flush() throws {
            guard !pending.isEmpty else { return }
            let ids = tokenizeInParallel(pending.map(\.text), encode: tokenizer.encode, workers: options.workers)
            for (k, doc) in ids.enumerated() {
                if doc.isEmpty { counts.skippedEmptyDocuments += 1; continue }
                for id in doc where id < 0 || id >= tokenizer.numTokens {
                    throw GLMDataError.tokenIdOutOfRange(id: id, vocabSize: tokenizer.numTokens, document: pending[k].label)
                }
                try writer.append(doc)
                counts.documents += 1
                counts.tokens += doc.count
            }
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
            progress?(PrepareProgress(bytesDone: bytesDone, bytesTotal: bytesTotal,
                                      documents: counts.documents, tokens: counts.tokens))
        }

        func enqueue(_ docs: [String], file: URL, counter: inout Int) throws {
            for d in docs {
                pending.append((d, "\(file.path) document \(counter)"))
                counter += 1
                pendingBytes += d.utf8.count
                if pendingBytes >= options.roundBytes { try flush() }
            }
        }

        for file in files {
            var docNumber = 0
            if file.pathExtension.lowercased() == "jsonl" {
                // Streamed in chunks cut at line ends: jsonl corpora are often many gigabytes.
                guard let h = try? FileHandle(forReadingFrom: file) else { counts.skippedUnreadableFiles += 1; continue }
                defer { try? h.close() }
                counts.files += 1
                var carry = Data(), first = true, binary = false
                func consume(_ lines: Data) throws {
                    let (text, replacements) = decodeUTF8(lines)
                    counts.invalidUTF8Replacements += replacements
                    var bad = 0
                    let docs = jsonlTexts(text, invalid: &bad)
                    counts.invalidJSONLines += bad
                    try enqueue(docs, file: file, counter: &docNumber)
                }
                while true {
                    guard let chunk = try? h.read(upToCount: options.readChunkBytes), !chunk.isEmpty else { break }
                    if first {
                        first = false
                        if looksBinary(chunk) { binary = true; counts.skippedBinaryFiles += 1; break }
                    }
                    counts.bytes += chunk.count
                    bytesDone += chunk.count
                    carry.append(chunk)
                    if let nl = carry.lastIndex(of: 0x0A) {
                        try consume(Data(carry[carry.startIndex...nl]))
                        carry = Data(carry[carry.index(after: nl)...])
                    }
                }
                if !binary && !carry.isEmpty { try consume(carry) }
                if first { counts.skippedEmptyFiles += 1 }
                continue
            }
            let data: Data
            do { data = try MappedFile.read(file) } catch {
                counts.skippedUnreadableFiles += 1
                continue
            }
            counts.files += 1
            counts.bytes += data.count
            bytesDone += data.count
            if data.isEmpty { counts.skippedEmptyFiles += 1; continue }
            if looksBinary(data) { counts.skippedBinaryFiles += 1; continue }
            let (text, replacements) = decodeUTF8(data)
            counts.invalidUTF8Replacements += replacements
            let docs = splitDocuments(text, mode: options.split)
            if docs.isEmpty { counts.skippedEmptyDocuments += 1 }
            try enqueue(docs, file: file, counter: &docNumber)
        }
        try flush()
        guard counts.documents > 0 else {
            throw GLMDataError.noDocuments(output: shownOutput, skipped: counts.skippedSummary)
        }
        let shards = try writer.finish()
        let manifest = ShardManifest(
            formatVersion: ShardManifest.currentFormatVersion, dtype: wide ? "uint32" : "uint16",
            tokenizer: .init(identity: tokenizer.identity, numTokens: tokenizer.numTokens, folder: tokenizer.folder,
                             commands: tokenizer.commands, sentenceEndIds: tokenizer.sentenceEndIds()),
            shards: shards, counts: counts)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try enc.encode(manifest)
        do { try json.write(to: manifestURL) } catch {
            throw GLMDataError.cannotWrite(path: manifestURL.path, reason: error.localizedDescription)
        }
        return manifest
    }

    /// True when the first 64 KiB hold a NUL byte, the usual sign of a binary file.
    public static func looksBinary(_ data: Data) -> Bool {
        data.prefix(65536).contains(0)
    }

    /// UTF-8 decoding that never fails: invalid sequences become U+FFFD, and their number is returned.
    public static func decodeUTF8(_ data: Data) -> (String, Int) {
        let s = String(decoding: data, as: UTF8.self)
        var produced = 0
        for u in s.unicodeScalars where u == "\u{FFFD}" { produced += 1 }
        guard produced > 0 else { return (s, 0) }
        // Subtract U+FFFD characters that were already in the input (bytes EF BF BD).
        var literal = 0
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let b = raw.bindMemory(to: UInt8.self)
            var i = 0
            while i + 2 < b.count {
                if b[i] == 0xEF && b[i + 1] == 0xBF && b[i + 2] == 0xBD { literal += 1; i += 3 } else { i += 1 }
            }
        }
        return (s, produced - literal)
    }

    /// Documents of a plain-text file: the whole (trimmed) file, or its blank-line-separated blocks.
    public static func splitDocuments(_ text: String, mode: DocumentSplit) -> [String] {
        switch mode {
        case .file:
            let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return t.isEmpty ? [] : [t]
        case .blankLine:
            var docs = [String]()
            var current = [Substring]()
            func close() {
                if !current.isEmpty { docs.append(current.joined(separator: "\n")); current.removeAll() }
            }
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                let l = line.hasSuffix("\r") ? line.dropLast() : line
                if l.allSatisfy({ $0.isWhitespace }) { close() } else { current.append(l) }
            }
            close()
            return docs
        }
    }

    /// The `text` fields of a JSON-lines file; lines that are not JSON objects with a string `text`
    /// are counted in `invalid`. Blank lines are ignored.
    public static func jsonlTexts(_ text: String, invalid: inout Int) -> [String] {
        var out = [String]()
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.allSatisfy({ $0.isWhitespace }) { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let t = obj["text"] as? String else { invalid += 1; continue }
            let trimmed = t.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { out.append(trimmed) } else { out.append("") }
        }
        return out
    }

    /// Encodes `texts` on `workers` threads; result order equals input order whatever the thread count.
    static func tokenizeInParallel(_ texts: [String], encode: @escaping @Sendable (String) -> [Int], workers: Int) -> [[Int]] {
        let n = texts.count
        let results = ResultSlots<[Int]>(count: n, empty: [])
        let w = min(workers, n)
        if w <= 1 {
            for i in 0..<n { results.set(i, encode(texts[i])) }
        } else {
            let next = AtomicCounter()
            DispatchQueue.concurrentPerform(iterations: w) { _ in
                while true {
                    let i = next.increment()
                    if i >= n { break }
                    results.set(i, encode(texts[i]))
                }
            }
        }
        return results.values
    }
}

/// Write-once slots shared by worker threads; each index is written by exactly one thread.
final class ResultSlots<T>: @unchecked Sendable {
    private var storage: [T]
    init(count: Int, empty: T) { storage = [T](repeating: empty, count: count) }
    func set(_ i: Int, _ v: T) { storage.withUnsafeMutableBufferPointer { $0[i] = v } }
    var values: [T] { storage }
}

/// A lock-protected counter handing out work items to threads.
final class AtomicCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() -> Int {
        lock.lock(); defer { lock.unlock() }
        let v = value; value += 1; return v
    }
}

/// Appends documents to the current shard's token file and closes shards at the size limit.
final class ShardWriter {
    let folder: URL
    let wide: Bool
    let maxTokensPerShard: Int
    private var shards: [ShardManifest.Shard] = []
    private var handle: FileHandle?
    private var fileURL: URL?
    private var offsets: [UInt64] = [0]
    private var buffer = Data()

    init(folder: URL, wide: Bool, maxTokensPerShard: Int) {
        self.folder = folder; self.wide = wide; self.maxTokensPerShard = maxTokensPerShard
    }

    private var name: String { String(format: "shard-%05d", shards.count) }

    func append(_ doc: [Int]) throws {
        if let last = offsets.last, last > 0, Int(last) + doc.count > maxTokensPerShard { try closeShard() }
        if handle == nil { try openShard() }
        buffer.reserveCapacity(buffer.count + doc.count * (wide ? 4 : 2))
        if wide {
            for id in doc { var v = UInt32(id).littleEndian; withUnsafeBytes(of: &v) { buffer.append(contentsOf: $0) } }
        } else {
            for id in doc { var v = UInt16(id).littleEndian; withUnsafeBytes(of: &v) { buffer.append(contentsOf: $0) } }
        }
        offsets.append(offsets.last! + UInt64(doc.count))
        if buffer.count >= 1 << 22 { try drain() }
    }

    private func openShard() throws {
        // Written under its final name: the whole folder is new, and visible only when complete.
        let url = folder.appendingPathComponent(name + ".bin")
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
              let h = FileHandle(forWritingAtPath: url.path) else {
            throw GLMDataError.cannotWrite(path: url.path, reason: "cannot create file")
        }
        handle = h; fileURL = url; offsets = [0]
    }

    private func drain() throws {
        guard let h = handle, !buffer.isEmpty else { return }
        do { try h.write(contentsOf: buffer) } catch {
            throw GLMDataError.cannotWrite(path: fileURL?.path ?? folder.path, reason: error.localizedDescription)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func closeShard() throws {
        guard let h = handle, let bin = fileURL else { return }
        try drain()
        do { try h.close() } catch { throw GLMDataError.cannotWrite(path: bin.path, reason: error.localizedDescription) }
        let idx = folder.appendingPathComponent(name + ".idx")
        var idxData = Data(capacity: offsets.count * 8)
        for o in offsets { var v = o.littleEndian; withUnsafeBytes(of: &v) { idxData.append(contentsOf: $0) } }
        do { try idxData.write(to: idx) } catch {
            throw GLMDataError.cannotWrite(path: idx.path, reason: error.localizedDescription)
        }
        shards.append(.init(tokens: bin.lastPathComponent, index: idx.lastPathComponent,
                            documents: offsets.count - 1, tokenCount: Int(offsets.last!)))
        handle = nil; fileURL = nil; offsets = [0]
    }

    func finish() throws -> [ShardManifest.Shard] {
        try closeShard()
        return shards
    }
}
