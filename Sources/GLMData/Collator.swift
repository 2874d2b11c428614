import GLMTokenizers

/// The objective of one batch. Raw values are what `glm batches` writes; the official code calls them
/// `bert`, `sentence` and `gpt`.
public enum BatchMode: String, Sendable, Codable, CaseIterable {
    /// Token-level blank infilling: Poisson(3) spans covering ≥ 15% of each sample, one [MASK] each.
    case token
    /// Sentence-level: whole sentences covering ≥ 15%, one [sMASK] (or [MASK]) each.
    case sentence
    /// Document-level: one long span (suffix or infill form), [gMASK] (or [MASK]).
    case document
}

/// A collated training batch in the layout the model consumes (docs/official-glm.md §1.3–1.4, §4.2 "Batch output").
///
/// Every per-token array is row-major with `seqLength` columns, right-padded with id 0, position 0/0
/// and loss 0. Row `r` of Part A is `[0, seps[r])`; Part B follows it. Targets are already aligned:
/// `targets[t]` is the token to predict from input `t`; loss is nonzero only on Part B.
public struct Batch: Sendable, Equatable {
    /// Input ids, `[batchSize * seqLength]`.
    public var inputIds: [Int32]
    /// 2D positions, `[batchSize, 2, seqLength]`: row 0 position, row 1 block position.
    public var positionIds: [Int32]
    /// Aligned targets, `[batchSize * seqLength]` (Part A slots hold copies of the inputs).
    public var targets: [Int32]
    /// 1 where the loss counts, `[batchSize * seqLength]`.
    public var lossMask: [Float]
    /// Per-sample Part A length (the `attention_mask` of the official code), `[batchSize]`.
    public var seps: [Int32]
    /// Rows in this batch. Can differ from the number of samples given to the collator: short-sequence
    /// splitting multiplies them and token-level samples whose spans do not fit are dropped (as upstream).
    public var batchSize: Int
    /// Columns S: the longest row (can exceed the packing length: N + 2·#spans in token mode).
    public var seqLength: Int
    public var mode: BatchMode
    /// Samples dropped because their spans could not be placed (token mode only).
    public var droppedSamples: Int

    public init(inputIds: [Int32], positionIds: [Int32], targets: [Int32], lossMask: [Float], seps: [Int32],
                batchSize: Int, seqLength: Int, mode: BatchMode, droppedSamples: Int = 0) {
        self.inputIds = inputIds; self.positionIds = positionIds; self.targets = targets; self.lossMask = lossMask
        self.seps = seps; self.batchSize = batchSize; self.seqLength = seqLength; self.mode = mode
        self.droppedSamples = droppedSamples
    }

    /// Input ids of row `r`.
    public func inputs(row r: Int) -> ArraySlice<Int32> { inputIds[(r * seqLength)..<((r + 1) * seqLength)] }
    /// Targets of row `r`.
    public func targets(row r: Int) -> ArraySlice<Int32> { targets[(r * seqLength)..<((r + 1) * seqLength)] }
    /// Loss mask of row `r`.
    public func loss(row r: Int) -> ArraySlice<Float> { lossMask[(r * seqLength)..<((r + 1) * seqLength)] }
    /// Position ids (row 0 of the 2D positions) of row `r`.
    public func positions(row r: Int) -> ArraySlice<Int32> { positionIds[(2 * r * seqLength)..<((2 * r + 1) * seqLength)] }
    /// Block position ids (row 1 of the 2D positions) of row `r`.
    public func blockPositions(row r: Int) -> ArraySlice<Int32> {
        positionIds[((2 * r + 1) * seqLength)..<((2 * r + 2) * seqLength)]
    }
    /// Number of real (non-padding) tokens of row `r`, i.e. Part A plus Part B.
    public func length(row r: Int) -> Int {
        // Padding is loss 0 and position 0/0 after Part B; Part B always has block position ≥ 1.
        let b = blockPositions(row: r)
        var n = Int(seps[r])
        var i = b.startIndex + n
        while i < b.endIndex && b[i] > 0 { i += 1; n += 1 }
        return n
    }
    /// Tokens carrying loss.
    public var lossTokens: Int { lossMask.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }

    /// Rows `range` as a batch of their own, with the same columns, mode and row contents: one
    /// data-parallel process's part of a global batch (the columns stay those of the whole batch,
    /// so every part computes exactly what the whole batch computes for those rows).
    public func rows(_ range: Range<Int>) -> Batch {
        precondition(range.lowerBound >= 0 && range.upperBound <= batchSize, "rows \(range) of a batch of \(batchSize)")
        let S = seqLength
        return Batch(inputIds: Array(inputIds[(range.lowerBound * S)..<(range.upperBound * S)]),
                     positionIds: Array(positionIds[(2 * range.lowerBound * S)..<(2 * range.upperBound * S)]),
                     targets: Array(targets[(range.lowerBound * S)..<(range.upperBound * S)]),
                     lossMask: Array(lossMask[(range.lowerBound * S)..<(range.upperBound * S)]),
                     seps: Array(seps[range]), batchSize: range.count, seqLength: S, mode: mode,
                     droppedSamples: range.lowerBound == 0 ? droppedSamples : 0)
    }

    /// The same batch right-padded (id 0, position 0/0, loss 0) to `columns` ≥ ``seqLength`` columns,
    /// for a trainer that keeps fixed-size buffers (see ``BlockCollator/maxColumns``).
    public func padded(to columns: Int) -> Batch {
        precondition(columns >= seqLength, "cannot pad \(seqLength) columns down to \(columns)")
        guard columns > seqLength else { return self }
        let S = seqLength, C = columns
        var ids = [Int32](repeating: 0, count: batchSize * C), tg = ids, ps = [Int32](repeating: 0, count: batchSize * 2 * C)
        var ls = [Float](repeating: 0, count: batchSize * C)
        for r in 0..<batchSize {
            for i in 0..<S {
                ids[r * C + i] = inputIds[r * S + i]; tg[r * C + i] = targets[r * S + i]; ls[r * C + i] = lossMask[r * S + i]
                ps[2 * r * C + i] = positionIds[2 * r * S + i]; ps[(2 * r + 1) * C + i] = positionIds[(2 * r + 1) * S + i]
            }
        }
        return Batch(inputIds: ids, positionIds: ps, targets: tg, lossMask: ls, seps: seps, batchSize: batchSize,
                     seqLength: C, mode: mode, droppedSamples: droppedSamples)
    }
}

/// One collated row before padding.
struct Row {
    var tokens: [Int32]
    var targets: [Int32]
    var loss: [Float]
    var pos: [Int32]
    var block: [Int32]
    var sep: Int
}

/// The blank-infilling collator of docs/official-glm.md §4.2 (`ConstructBlockStrategy.construct_blocks`).
///
/// Turns packed samples into one ``Batch`` with a single objective: Part A is the text with each span
/// replaced by one mask token, Part B the spans (shuffled), each `[sop] + span` with targets
/// `span + [eop]`, 2D positions as §1.4 and a per-sample `sep`. All randomness comes from the
/// `GLMRandom` passed in, so a batch is a pure function of the samples and the generator state.
public struct BlockCollator: Sendable {
    public let config: CollatorConfig
    public let commands: CommandTokens
    public let sentenceEnds: SentenceEnds
    /// The packing length (`--seq-length`), used by short-sequence splitting.
    public let seqLength: Int
    /// The span-length distribution (Poisson(λ) on 1..<maxBlockLength).
    public let spanLengths: TruncatedPoisson
    /// Mask token of document-level spans: [gMASK] with task masks when the vocabulary has it, else [MASK].
    public let generationMask: Int32
    /// Mask token of sentence-level spans: [sMASK] with task masks when the vocabulary has it, else [MASK].
    public let gapSentenceMask: Int32

    private let cls: Int32, eos: Int32, mask: Int32, sop: Int32, eop: Int32, dBlock: Int32

    /// - Throws: ``GLMDataError/invalidConfig(field:reason:)`` for out-of-range settings, and
    ///   ``GLMDataError/missingCommandToken(name:neededBy:)`` when `blockMaskProb > 0` but the
    ///   tokenizer has no [dBLOCK].
    public init(config: CollatorConfig, commands: CommandTokens, sentenceEnds: SentenceEnds, seqLength: Int) throws {
        try config.validate()
        guard seqLength >= 8 else { throw GLMDataError.invalidConfig(field: "seqLength", reason: "must be at least 8, found \(seqLength)") }
        if config.blockMaskProb > 0 && commands.dBlock == nil {
            throw GLMDataError.missingCommandToken(name: "[dBLOCK]", neededBy: "blockMaskProb > 0")
        }
        self.config = config; self.commands = commands; self.sentenceEnds = sentenceEnds; self.seqLength = seqLength
        spanLengths = TruncatedPoisson(lambda: config.averageBlockLength, maxLength: config.maxBlockLength - 1)
        generationMask = Int32((config.taskMask ? commands.gMask : nil) ?? commands.mask)
        gapSentenceMask = Int32((config.taskMask ? commands.sMask : nil) ?? commands.mask)
        cls = Int32(commands.cls); eos = Int32(commands.eos); mask = Int32(commands.mask)
        sop = Int32(commands.sop); eop = Int32(commands.eop); dBlock = Int32(commands.dBlock ?? commands.mask)
    }

    /// An upper bound on ``Batch/seqLength`` for this collator, for sizing fixed buffers: a row is its
    /// packed sample (N ≤ `seqLength` tokens) plus a mask and a sop per span (N + 2k), and every
    /// objective stops adding spans once ⌊ratio·N⌋ tokens are covered, so k ≤ max(1, ⌊ratio·N⌋).
    /// Position ids are always < `seqLength`.
    public var maxColumns: Int {
        seqLength + 2 * max(1, Int(max(config.bertRatio, config.gapSentenceRatio) * Double(seqLength)))
    }

    /// A collator for a shard folder: commands and sentence ends from its manifest.
    public init(config: CollatorConfig, dataset: ShardDataset, seqLength: Int) throws {
        try self.init(config: config, commands: dataset.commands, sentenceEnds: dataset.sentenceEnds, seqLength: seqLength)
    }

    /// Collates `samples` into one batch.
    public func collate(_ samples: [PackedSample], rng: inout GLMRandom) -> Batch {
        collateWithSources(samples, rng: &rng).batch
    }

    /// Collates `samples` and also returns, for each row of the batch, the packed sample it was made
    /// from (after short-sequence splitting) — for tests and for `glm batches --show`.
    public func collateWithSources(_ input: [PackedSample], rng: inout GLMRandom) -> (batch: Batch, sources: [PackedSample]) {
        precondition(!input.isEmpty, "collate needs at least one sample")
        var samples = input
        if rng.unit() < config.shortSeqProb && seqLength - 1 > 32 { samples = splitSamples(samples, rng: &rng) }
        var rows = [Row](), sources = [PackedSample]()
        rows.reserveCapacity(samples.count)
        var dropped = 0
        let mode: BatchMode
        let singleSpan = rng.unit() < config.singleSpanProb
        let r = singleSpan ? 0 : rng.unit()
        if singleSpan || r < config.bertProb {
            mode = .token
            for s in samples {
                if let row = tokenRow(s, singleSpan: singleSpan, partialOK: false, rng: &rng) {
                    rows.append(row); sources.append(s)
                } else { dropped += 1 }
            }
            if rows.isEmpty {
                // Upstream would emit an empty batch; keep the first sample with the spans that fit.
                rows.append(tokenRow(samples[0], singleSpan: singleSpan, partialOK: true, rng: &rng)!)
                sources.append(samples[0])
            }
        } else if r < config.bertProb + config.gapSentenceProb {
            mode = .sentence
            for s in samples { rows.append(sentenceRow(s, rng: &rng)); sources.append(s) }
        } else {
            mode = .document
            let minLen = samples.map(\.count).min()!, maxLen = samples.map(\.count).max()!
            let lo = Int(config.gptMinRatio * Double(minLen))
            let hi = max(lo, maxLen - 2)
            let shared = rng.int(in: lo, hi)
            for s in samples { rows.append(documentRow(s, generationLength: shared, rng: &rng)); sources.append(s) }
        }
        return (pad(rows, mode: mode, dropped: dropped), sources)
    }

    /// The §1.4 layout of one sample with given spans, as a one-row batch: Part A with `mask` in place
    /// of each span, then the spans in `partBOrder` (indices into `spans` sorted by start; nil = the
    /// collator's shuffle setting with `rng`). Used by the collator itself and by blank-infilling tasks
    /// that choose their own spans.
    public func layout(_ sample: PackedSample, spans: [(Int, Int)], mask: Int32, partBOrder: [Int]? = nil,
                       mode: BatchMode = .token, rng: inout GLMRandom) -> Batch {
        let row = blockRow(sample.tokens, spans: spans, maskID: mask, blockMask: false, order: partBOrder, rng: &rng)
        return pad([row], mode: mode, dropped: 0)
    }

    // MARK: Token level

    private func tokenRow(_ s: PackedSample, singleSpan: Bool, partialOK: Bool, rng: inout GLMRandom) -> Row? {
        let n = s.count
        var lengths = [Int]()
        if singleSpan {
            lengths.append(spanLengths.sample(&rng))
        } else {
            let goal = Int(config.bertRatio * Double(n))
            var total = 0
            while total < goal { let l = spanLengths.sample(&rng); lengths.append(l); total += l }
        }
        rng.shuffle(&lengths)
        let spans = placeSpans(s.tokens, lengths: lengths, rng: &rng)
        if spans.count < lengths.count && !partialOK { return nil }
        return blockRow(s.tokens, spans: spans, maskID: mask, blockMask: true, rng: &rng)
    }

    /// `sample_span_in_document`: spans never cover a leading [CLS] or an eos; shorter documents take
    /// spans up to `bertRatio` of their length, the longest takes the rest; spans never touch.
    func placeSpans(_ tokens: [Int32], lengths input: [Int], rng: inout GLMRandom) -> [(Int, Int)] {
        var lengths = input
        rng.shuffle(&lengths)
        let n = tokens.count
        var indices = [-1]
        for i in 0..<n where tokens[i] == eos { indices.append(i) }
        var documents = [(offset: Int, length: Int, order: Int)]()
        var last = n
        for index in indices.reversed() {
            var start = index
            if start + 1 < n && tokens[start + 1] == cls { start += 1 }
            var length = last - start - 1
            if last == n && length > 0 { length -= 1 }
            documents.append((start + 1, max(0, length), documents.count))
            last = index
        }
        // Stable by length, as Python's sort.
        documents.sort { $0.length != $1.length ? $0.length < $1.length : $0.order < $1.order }
        var spans = [(Int, Int)]()
        var next = 0
        for (i, d) in documents.enumerated() {
            var taken = 0, count = 0
            if i == documents.count - 1 {
                while next + count < lengths.count && lengths[next + count] + taken + count <= d.length {
                    taken += lengths[next + count]; count += 1
                }
            } else {
                let budget = Int(Double(d.length) * config.bertRatio)
                while next + count < lengths.count && lengths[next + count] + taken <= budget {
                    taken += lengths[next + count]; count += 1
                }
            }
            if count > 0 {
                spans += sampleSpans(Array(lengths[next..<(next + count)]), total: d.length, offset: d.offset, rng: &rng)
                next += count
            }
        }
        return spans
    }

    /// `sample_spans`: k sorted uniform gaps, so consecutive spans are at least one token apart.
    private func sampleSpans(_ lengths: [Int], total: Int, offset start: Int, rng: inout GLMRandom) -> [(Int, Int)] {
        let m = total - lengths.reduce(0, +) - lengths.count + 1
        var places = (0..<lengths.count).map { _ in rng.int(below: max(0, m) + 1) }
        places.sort()
        var spans = [(Int, Int)]()
        var offset = start
        for (p, l) in zip(places, lengths) {
            spans.append((offset + p, offset + p + l))
            offset += l + 1
        }
        return spans
    }

    /// `make_block_data`: Part A with one mask per span, Part B the spans (shuffled unless switched off),
    /// each `[sop] + span` → `span + [eop]`, positions and block positions as docs/official-glm.md §1.4.
    func blockRow(_ tokens: [Int32], spans input: [(Int, Int)], maskID: Int32, blockMask: Bool,
                  order fixedOrder: [Int]? = nil, rng: inout GLMRandom) -> Row {
        let sorted = input.sorted { $0.0 < $1.0 }
        var order = Array(0..<sorted.count)
        if let fixedOrder { order = fixedOrder } else if config.shuffleBlocks { rng.shuffle(&order) }
        let spanTotal = sorted.reduce(0) { $0 + $1.1 - $1.0 }
        let n = tokens.count
        let partA = n - spanTotal + sorted.count
        let total = partA + spanTotal + sorted.count
        var row = Row(tokens: [], targets: [], loss: [], pos: [], block: [], sep: partA)
        row.tokens.reserveCapacity(total); row.targets.reserveCapacity(total); row.loss.reserveCapacity(total)
        row.pos.reserveCapacity(total); row.block.reserveCapacity(total)
        var maskIndex = [Int32](repeating: 0, count: sorted.count)
        var last = 0
        for (k, (start, end)) in sorted.enumerated() {
            for i in last..<start { row.tokens.append(tokens[i]) }
            maskIndex[k] = Int32(row.tokens.count)
            row.tokens.append(maskID)
            last = end
        }
        if last < n { for i in last..<n { row.tokens.append(tokens[i]) } }
        row.targets = row.tokens
        row.loss = [Float](repeating: 0, count: partA)
        row.pos = (0..<Int32(partA)).map { $0 }
        row.block = [Int32](repeating: 0, count: partA)
        let dropToken = blockMask && config.blockMaskProb > 0
        for k in order {
            let (start, end) = sorted[k]
            row.tokens.append(sop)
            for i in start..<end {
                var t = tokens[i]
                if dropToken && rng.unit() < config.blockMaskProb { t = dBlock }
                row.tokens.append(t)
                row.targets.append(tokens[i])
            }
            row.targets.append(eop)
            for j in 0...(end - start) {
                row.pos.append(maskIndex[k]); row.block.append(Int32(j + 1)); row.loss.append(1)
            }
        }
        return row
    }

    // MARK: Sentence level

    /// Sentences are runs ending at a sentence-end token; eos and [CLS] reset the run, so a sentence
    /// never holds either (upstream only resets at eos and can mask a document's leading [CLS]).
    func sentenceSpans(_ tokens: [Int32]) -> [(Int, Int)] {
        let n = tokens.count
        var spans = [(Int, Int)]()
        var last = 0
        for i in 0..<n {
            let t = tokens[i]
            if sentenceEnds.contains(t) {
                if last < i + 1 { spans.append((last, i + 1)) }
                last = i + 1
            } else if t == eos || t == cls {
                last = i + 1
            }
        }
        if last < n { spans.append((last, n)) }
        return spans
    }

    private func sentenceRow(_ s: PackedSample, rng: inout GLMRandom) -> Row {
        var candidates = sentenceSpans(s.tokens)
        rng.shuffle(&candidates)
        let goal = Int(config.gapSentenceRatio * Double(s.count))
        var chosen = [(Int, Int)](), covered = 0
        for c in candidates {
            chosen.append(c); covered += c.1 - c.0
            if covered >= goal { break }
        }
        return blockRow(s.tokens, spans: chosen, maskID: gapSentenceMask, blockMask: false, rng: &rng)
    }

    // MARK: Document level

    private func documentRow(_ s: PackedSample, generationLength shared: Int, rng: inout GLMRandom) -> Row {
        let n = s.count
        let g = max(1, min(shared, n - 2))
        let firstEos = s.tokens.firstIndex(of: eos)
        let multipleDocuments = firstEos != nil && firstEos! != n - 1
        if !multipleDocuments && rng.unit() >= config.gptInfillProb {
            // Infill form: one span of length g inside the document, through the token-level machinery.
            let spans = placeSpans(s.tokens, lengths: [g], rng: &rng)
            if spans.count == 1 {
                return blockRow(s.tokens, spans: spans, maskID: generationMask, blockMask: false, rng: &rng)
            }
        }
        // Suffix form: Part A = text[..<n-g] + [gMASK]; Part B = [sop] + suffix.dropLast(), targets = suffix, no eop.
        let division = n - g
        var row = Row(tokens: [], targets: [], loss: [], pos: [], block: [], sep: division + 1)
        row.tokens = Array(s.tokens[0..<division]) + [generationMask, sop] + Array(s.tokens[division..<(n - 1)])
        row.targets = Array(s.tokens[0..<division]) + [generationMask] + Array(s.tokens[division..<n])
        row.loss = [Float](repeating: 0, count: division + 1) + s.lossMask[division..<n].map { Float($0) }
        row.pos = (0...Int32(division)).map { $0 } + [Int32](repeating: Int32(division), count: g)
        row.block = [Int32](repeating: 0, count: division + 1) + (1...Int32(g)).map { $0 }
        return row
    }

    // MARK: Short sequences

    /// `split_samples`: a target length uniform in [32, seqLength − 2]; each sample gives
    /// ⌊(seqLength − 1)/target⌋ random sentence-aligned crops, each with [CLS] in front.
    func splitSamples(_ samples: [PackedSample], rng: inout GLMRandom) -> [PackedSample] {
        let target = rng.int(in: 32, seqLength - 2)
        let pieces = (seqLength - 1) / target
        var out = [PackedSample]()
        for s in samples {
            let t = Array(s.tokens.dropFirst()), l = Array(s.lossMask.dropFirst())
            for _ in 0..<pieces {
                var a = 0, b = t.count
                if target < t.count {
                    a = rng.int(below: t.count - target)
                    while a > 0 && (t[a] == eos || !(sentenceEnds.contains(t[a - 1]) || t[a - 1] == eos)) { a -= 1 }
                    b = a + target
                    while b > a && !(sentenceEnds.contains(t[b - 1]) || t[b - 1] == eos) { b -= 1 }
                    if b - a < target / 2 { b = a + target }
                }
                // A crop that starts a packed document already begins with its [CLS]; do not double it.
                if a < b && t[a] == cls { a += 1 }
                if a >= b { continue }
                out.append(PackedSample(tokens: [cls] + t[a..<b], lossMask: [0] + l[a..<b]))
            }
        }
        return out.isEmpty ? samples : out
    }

    // MARK: Padding

    private func pad(_ rows: [Row], mode: BatchMode, dropped: Int) -> Batch {
        let S = rows.map { $0.tokens.count }.max() ?? 0
        let b = rows.count
        var ids = [Int32](repeating: 0, count: b * S), tg = [Int32](repeating: 0, count: b * S)
        var ls = [Float](repeating: 0, count: b * S), ps = [Int32](repeating: 0, count: b * 2 * S)
        var seps = [Int32]()
        for (r, row) in rows.enumerated() {
            let n = row.tokens.count
            for i in 0..<n {
                ids[r * S + i] = row.tokens[i]; tg[r * S + i] = row.targets[i]; ls[r * S + i] = row.loss[i]
                ps[2 * r * S + i] = row.pos[i]; ps[(2 * r + 1) * S + i] = row.block[i]
            }
            seps.append(Int32(row.sep))
        }
        return Batch(inputIds: ids, positionIds: ps, targets: tg, lossMask: ls, seps: seps,
                     batchSize: b, seqLength: S, mode: mode, droppedSamples: dropped)
    }
}
