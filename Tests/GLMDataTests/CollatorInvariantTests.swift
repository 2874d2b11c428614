import Foundation
import GLMData
import GLMTokenizers
import XCTest

/// What a checked row held, in the coordinates of its packed sample.
struct CheckedRow {
    var n: Int
    /// Spans as [start, end) in the packed sample.
    var spans: [(Int, Int)]
    var suffixForm: Bool
}

/// Checks every invariant of the issue on one batch and returns the spans of each row.
func checkBatch(_ batch: Batch, sources: [PackedSample], commands: CommandTokens, config: CollatorConfig,
                sentenceEnds: SentenceEnds, file: StaticString = #filePath, line: UInt = #line) -> [CheckedRow] {
    XCTAssertEqual(batch.batchSize, sources.count, file: file, line: line)
    XCTAssertEqual(batch.inputIds.count, batch.batchSize * batch.seqLength, file: file, line: line)
    XCTAssertEqual(batch.positionIds.count, batch.batchSize * 2 * batch.seqLength, file: file, line: line)
    let maskIDs: Set<Int32> = Set([commands.mask, commands.gMask, commands.sMask].compactMap { $0.map(Int32.init) })
    let sop = Int32(commands.sop), eop = Int32(commands.eop)
    let expectedMask: Int32 = {
        switch batch.mode {
        case .token: return Int32(commands.mask)
        case .sentence: return Int32((config.taskMask ? commands.sMask : nil) ?? commands.mask)
        case .document: return Int32((config.taskMask ? commands.gMask : nil) ?? commands.mask)
        }
    }()
    var out = [CheckedRow]()
    for r in 0..<batch.batchSize {
        let src = sources[r]
        let N = src.count
        let n = batch.length(row: r), sep = Int(batch.seps[r])
        let ids = Array(batch.inputs(row: r)), tg = Array(batch.targets(row: r)), ls = Array(batch.loss(row: r))
        let ps = Array(batch.positions(row: r)), bp = Array(batch.blockPositions(row: r))
        // Right padding: id 0, position 0/0, loss 0.
        for i in n..<batch.seqLength {
            XCTAssertEqual(ids[i], 0, file: file, line: line); XCTAssertEqual(tg[i], 0, file: file, line: line)
            XCTAssertEqual(ls[i], 0, file: file, line: line)
            XCTAssertEqual(ps[i], 0, file: file, line: line); XCTAssertEqual(bp[i], 0, file: file, line: line)
        }
        // Part A: positions 0..<sep, block 0, no loss, targets = inputs.
        for i in 0..<sep {
            XCTAssertEqual(ps[i], Int32(i), "row \(r) Part A position", file: file, line: line)
            XCTAssertEqual(bp[i], 0, file: file, line: line)
            XCTAssertEqual(ls[i], 0, "loss in Part A", file: file, line: line)
            XCTAssertEqual(tg[i], ids[i], file: file, line: line)
        }
        let spans = BatchFormat.spans(batch, row: r, eop: eop)
        let maskPositions = (0..<sep).filter { maskIDs.contains(ids[$0]) }
        XCTAssertEqual(maskPositions.count, spans.count, "one mask token per span (row \(r))", file: file, line: line)
        XCTAssertEqual(Set(spans.map(\.maskPosition)), Set(maskPositions), "each span points at a mask", file: file, line: line)
        for p in maskPositions { XCTAssertEqual(ids[p], expectedMask, "mask token kind for \(batch.mode)", file: file, line: line) }

        let suffix = spans.count == 1 && !spans[0].endsWithEop
        for sp in spans {
            let len = sp.tokens.count
            XCTAssertEqual(ids[sp.start], sop, "span starts with sop", file: file, line: line)
            let width = suffix ? len : len + 1
            for j in 0..<width {
                XCTAssertEqual(ps[sp.start + j], Int32(sp.maskPosition), "Part B position = mask index", file: file, line: line)
                XCTAssertEqual(bp[sp.start + j], Int32(j + 1), "block positions 1…", file: file, line: line)
            }
            // Targets equal the next input inside the span.
            for j in 0..<(width - 1) {
                XCTAssertEqual(tg[sp.start + j], ids[sp.start + j + 1], "targets = next input", file: file, line: line)
            }
            if !suffix {
                XCTAssertEqual(tg[sp.start + len], eop, "span ends with eop", file: file, line: line)
                for j in 0...len { XCTAssertEqual(ls[sp.start + j], 1, "loss on Part B", file: file, line: line) }
            }
        }
        var rowSpans = [(Int, Int)]()
        if suffix {
            XCTAssertEqual(batch.mode, .document, file: file, line: line)
            XCTAssertEqual(spans[0].maskPosition, sep - 1, "suffix form: gMASK ends Part A", file: file, line: line)
            let text = Array(ids[0..<(sep - 1)]) + spans[0].tokens
            XCTAssertEqual(text, src.tokens, "Part A + suffix reconstructs the sample (row \(r))", file: file, line: line)
            let g = spans[0].tokens.count
            XCTAssertEqual(n, sep + g, file: file, line: line)
            for j in 0..<g { XCTAssertEqual(ls[sep + j], Float(src.lossMask[sep - 1 + j]), "suffix loss = sample loss", file: file, line: line) }
            XCTAssertFalse(spans[0].tokens.contains(eop), file: file, line: line)
            rowSpans = [(sep - 1, N)]
        } else {
            // Reconstruct: Part A with every mask replaced by its span.
            let byMask = Dictionary(uniqueKeysWithValues: spans.map { ($0.maskPosition, $0.tokens) })
            var text = [Int32]()
            for i in 0..<sep {
                if let s = byMask[i] { rowSpans.append((text.count, text.count + s.count)); text += s } else { text.append(ids[i]) }
            }
            XCTAssertEqual(text, src.tokens, "Part A + spans reconstruct the packed text (row \(r))", file: file, line: line)
            XCTAssertEqual(n, sep + spans.reduce(0) { $0 + $1.tokens.count + 1 }, file: file, line: line)
            XCTAssertEqual(sep, N - rowSpans.reduce(0) { $0 + $1.1 - $1.0 } + spans.count, file: file, line: line)
            for (a, b) in rowSpans {
                XCTAssertGreaterThan(b, a, "spans are not empty", file: file, line: line)
                for i in a..<b {
                    XCTAssertNotEqual(src.tokens[i], Int32(commands.eos), "no eos inside a span", file: file, line: line)
                    XCTAssertNotEqual(src.tokens[i], Int32(commands.cls), "no [CLS] inside a span", file: file, line: line)
                }
            }
            if batch.mode != .sentence {
                for k in 1..<max(1, rowSpans.count) {
                    XCTAssertGreaterThan(rowSpans[k].0, rowSpans[k - 1].1, "spans never touch", file: file, line: line)
                }
            } else {
                for (a, b) in rowSpans {
                    let before = a == 0 ? nil : src.tokens[a - 1]
                    XCTAssertTrue(before == nil || sentenceEnds.contains(before!) || before == Int32(commands.eos)
                                  || before == Int32(commands.cls), "sentence span starts a sentence", file: file, line: line)
                    XCTAssertTrue(sentenceEnds.contains(src.tokens[b - 1]) || b == N, "sentence span ends a sentence", file: file, line: line)
                    for i in a..<(b - 1) {
                        XCTAssertFalse(sentenceEnds.contains(src.tokens[i]), "one sentence per span", file: file, line: line)
                    }
                }
            }
        }
        XCTAssertEqual(ls[sep..<n].filter { $0 > 0 }.count + ls[0..<sep].filter { $0 > 0 }.count,
                       ls.filter { $0 > 0 }.count, "loss only on real tokens", file: file, line: line)
        out.append(CheckedRow(n: N, spans: rowSpans, suffixForm: suffix))
    }
    return out
}

final class CollatorInvariantTests: XCTestCase {
    static let fixture = Fixture()
    static let shards: (folder: URL, manifest: ShardManifest) = try! makeShards(standardCorpus(), name: "invariants")

    func collate(_ config: CollatorConfig, seqLength: Int = 128, batches: Int, batchSize: Int = 8,
                 commands: CommandTokens? = nil, seed: UInt64 = 7) throws -> [(Batch, [CheckedRow])] {
        let f = Self.fixture
        let ds = try ShardDataset(folder: Self.shards.folder, tokenizerIdentity: f.tokenizer.identity)
        let c = try BlockCollator(config: config, commands: commands ?? ds.commands, sentenceEnds: ds.sentenceEnds,
                                  seqLength: seqLength)
        var out = [(Batch, [CheckedRow])]()
        for k in 0..<batches {
            let samples = (0..<batchSize).map { ds.sample(index: k * batchSize + $0, seed: seed, seqLength: seqLength) }
            var rng = GLMRandom(seed: seed, stream: .collator, index: k)
            let (b, src) = c.collateWithSources(samples, rng: &rng)
            XCTAssertLessThanOrEqual(b.seqLength, c.maxColumns)
            for r in 0..<b.batchSize {
                XCTAssertTrue(b.positions(row: r).allSatisfy { $0 >= 0 && $0 < Int32(seqLength) }, "positions stay below the packing length")
                XCTAssertTrue(b.blockPositions(row: r).allSatisfy { $0 >= 0 && $0 <= Int32(seqLength) })
            }
            let wide = b.padded(to: c.maxColumns)
            XCTAssertEqual(wide.seqLength, c.maxColumns)
            XCTAssertEqual(Array(wide.inputs(row: 0).prefix(b.seqLength)), Array(b.inputs(row: 0)))
            XCTAssertEqual(Array(wide.blockPositions(row: 0).prefix(b.seqLength)), Array(b.blockPositions(row: 0)))
            XCTAssertEqual(wide.length(row: 0), b.length(row: 0))
            out.append((b, checkBatch(b, sources: src, commands: c.commands, config: config, sentenceEnds: ds.sentenceEnds)))
        }
        return out
    }

    func testWorkedExampleOfOfficialGLM1_4() throws {
        // [CLS] x1 x2 x3 x4 x5 x6 [eos], spans {x3} and {x5 x6}, Part B in the order (span2, span1).
        let f = Self.fixture
        let c = try BlockCollator(config: .glmBase, commands: f.commands, sentenceEnds: f.sentenceEnds, seqLength: 64)
        let x = (1...6).map { Int32(10 + $0) }
        let sample = PackedSample(tokens: [2] + x + [0], lossMask: [0, 1, 1, 1, 1, 1, 1, 1])
        var rng = GLMRandom(seed: 0)
        let b = c.layout(sample, spans: [(3, 4), (5, 7)], mask: 4, partBOrder: [1, 0], rng: &rng)
        let sop = Int32(f.commands.sop), eop = Int32(f.commands.eop)
        XCTAssertEqual(b.seps, [7])
        XCTAssertEqual(Array(b.inputs(row: 0)), [2, x[0], x[1], 4, x[3], 4, 0, sop, x[4], x[5], sop, x[2]])
        XCTAssertEqual(Array(b.positions(row: 0)), [0, 1, 2, 3, 4, 5, 6, 5, 5, 5, 3, 3])
        XCTAssertEqual(Array(b.blockPositions(row: 0)), [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 1, 2])
        XCTAssertEqual(Array(b.targets(row: 0))[7...], [x[4], x[5], eop, x[2], eop])
        XCTAssertEqual(Array(b.loss(row: 0)), [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    }

    func testTokenModeInvariants() throws {
        let out = try collate(.tokenOnly, batches: 60)
        let rows = out.flatMap { $0.1 }
        XCTAssertGreaterThan(rows.count, 400)
        XCTAssertTrue(rows.allSatisfy { !$0.spans.isEmpty })
        // Shuffled by default: Part B is out of text order in most rows with several spans.
        var shuffled = 0, multi = 0
        for (b, _) in out {
            for r in 0..<b.batchSize {
                let masks = BatchFormat.spans(b, row: r, eop: Int32(Self.fixture.commands.eop)).map(\.maskPosition)
                if masks.count > 2 { multi += 1; if masks != masks.sorted() { shuffled += 1 } }
            }
        }
        XCTAssertGreaterThan(Double(shuffled), 0.6 * Double(multi))
    }

    func testTokenModeWithSingleSpanAndNoShuffle() throws {
        var c = CollatorConfig.tokenOnly
        c.singleSpanProb = 1; c.shuffleBlocks = false
        for (b, rows) in try collate(c, batches: 20) {
            XCTAssertEqual(b.mode, .token)
            for (r, row) in rows.enumerated() {
                XCTAssertEqual(row.spans.count, 1)
                // Unshuffled: Part B spans appear in text order.
                let masks = BatchFormat.spans(b, row: r, eop: Int32(Self.fixture.commands.eop)).map(\.maskPosition)
                XCTAssertEqual(masks, masks.sorted())
            }
        }
    }

    func testSentenceModeInvariants() throws {
        let out = try collate(.sentenceOnly, batches: 40)
        for (b, rows) in out {
            XCTAssertEqual(b.mode, .sentence)
            for row in rows {
                let covered = row.spans.reduce(0) { $0 + $1.1 - $1.0 }
                XCTAssertGreaterThanOrEqual(covered, Int(0.15 * Double(row.n)))
            }
        }
    }

    func testDocumentModeInvariantsBothForms() throws {
        let out = try collate(.documentOnly, batches: 60)
        let rows = out.flatMap { $0.1 }
        XCTAssertTrue(out.allSatisfy { $0.0.mode == .document })
        XCTAssertTrue(rows.contains { $0.suffixForm }, "suffix form occurs")
        XCTAssertTrue(rows.contains { !$0.suffixForm }, "infill form occurs")
        for row in rows { XCTAssertEqual(row.spans.count, 1) }
    }

    func testMixedPresetsAndShortSequences() throws {
        var c = CollatorConfig.glm10B
        c.shortSeqProb = 0.3
        c.blockMaskProb = 0  // [dBLOCK] breaks "targets = next input" by design; tested on its own below
        let out = try collate(c, seqLength: 160, batches: 80)
        let modes = Set(out.map { $0.0.mode })
        XCTAssertEqual(modes, Set(BatchMode.allCases))
        XCTAssertTrue(out.contains { $0.0.batchSize > 8 }, "short-sequence splitting produced more rows")
    }

    func testBlockMaskReplacesInputsNotTargets() throws {
        var c = CollatorConfig.tokenOnly
        c.blockMaskProb = 0.5
        let f = Self.fixture
        let ds = try ShardDataset(folder: Self.shards.folder)
        let col = try BlockCollator(config: c, commands: f.commands, sentenceEnds: ds.sentenceEnds, seqLength: 128)
        var rng = GLMRandom(seed: 3)
        let samples = (0..<8).map { ds.sample(index: $0, seed: 3, seqLength: 128) }
        let (b, src) = col.collateWithSources(samples, rng: &rng)
        var replaced = 0, total = 0
        for r in 0..<b.batchSize {
            let ids = Array(b.inputs(row: r)), sep = Int(b.seps[r]), n = b.length(row: r)
            for i in sep..<n where b.blockPositions(row: r)[b.blockPositions(row: r).startIndex + i] > 1 {
                total += 1
                if ids[i] == Int32(f.commands.dBlock!) { replaced += 1 }
            }
            // Targets still reconstruct the text.
            let spans = BatchFormat.spans(b, row: r, eop: Int32(f.commands.eop))
            let byMask = Dictionary(uniqueKeysWithValues: spans.map { ($0.maskPosition, $0.tokens) })
            var text = [Int32]()
            for i in 0..<sep { if let s = byMask[i] { text += s } else { text.append(ids[i]) } }
            XCTAssertEqual(text, src[r].tokens)
        }
        XCTAssertGreaterThan(replaced, total / 4)
        XCTAssertLessThan(replaced, 3 * total / 4)
        // Without a [dBLOCK] token the setting is refused, naming it.
        XCTAssertThrowsError(try BlockCollator(config: c, commands: f.bertLikeCommands, sentenceEnds: ds.sentenceEnds, seqLength: 128)) {
            XCTAssertEqual($0 as? GLMDataError, .missingCommandToken(name: "[dBLOCK]", neededBy: "blockMaskProb > 0"))
        }
    }

    func testBertVocabularyUsesMaskForAllObjectives() throws {
        let f = Self.fixture
        var c = CollatorConfig.glmLargeChinese
        c.blockMaskProb = 0
        for (b, _) in try collate(c, batches: 30, commands: f.bertLikeCommands) {
            let sep = Int(b.seps[0])
            let masks = b.inputs(row: 0).prefix(sep).filter { $0 == 4 }
            XCTAssertFalse(masks.isEmpty, "[MASK] stands in for [sMASK]/[gMASK] in \(b.mode) mode")
        }
    }

    func testConfigValidationNamesTheField() {
        var c = CollatorConfig()
        c.bertProb = 0.8; c.gapSentenceProb = 0.5
        XCTAssertThrowsError(try c.validate()) {
            XCTAssertEqual($0 as? GLMDataError, .invalidConfig(field: "bertProb+gapSentenceProb", reason: "must not exceed 1"))
        }
        c = CollatorConfig(); c.shortSeqProb = 2
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("shortSeqProb")) }
        for name in CollatorConfig.presetNames { XCTAssertNotNil(CollatorConfig.named(name), name) }
        XCTAssertNil(CollatorConfig.named("nope"))
    }
}

final class CollatorFuzzTests: XCTestCase {
    /// Odd samples (2–80 tokens, random eos/[CLS] runs, no sentence ends at all, bare trailing [CLS])
    /// through every preset: never a crash, every invariant holds.
    func testOddSamplesThroughEveryPreset() throws {
        let f = Fixture()
        var gen = GLMRandom(seed: 77)
        let period = Int32(f.text.id(for: ".")!)
        for name in CollatorConfig.presetNames {
            var cfg = CollatorConfig.named(name)!
            cfg.shortSeqProb = max(cfg.shortSeqProb, 0.2)
            cfg.blockMaskProb = 0
            let col = try BlockCollator(config: cfg, commands: f.commands, sentenceEnds: f.sentenceEnds, seqLength: 80)
            for k in 0..<150 {
                let samples: [PackedSample] = (0..<(1 + gen.int(below: 4))).map { _ in
                    let n = 2 + gen.int(below: 79)
                    var t: [Int32] = [2], l: [UInt8] = [0]
                    while t.count < n {
                        switch gen.int(below: 10) {
                        case 0: t.append(0); l.append(1); if t.count < n { t.append(2); l.append(0) }
                        case 1, 2: t.append(period); l.append(1)
                        default: t.append(Int32(5 + gen.int(below: 200))); l.append(1)
                        }
                    }
                    return PackedSample(tokens: Array(t.prefix(n)), lossMask: Array(l.prefix(n)))
                }
                var rng = GLMRandom(seed: 1, stream: .collator, index: k)
                let (b, src) = col.collateWithSources(samples, rng: &rng)
                XCTAssertGreaterThan(b.batchSize, 0)
                XCTAssertLessThanOrEqual(b.seqLength, col.maxColumns)
                _ = checkBatch(b, sources: src, commands: f.commands, config: cfg, sentenceEnds: f.sentenceEnds)
            }
        }
    }
}
