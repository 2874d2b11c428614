/// A tokenizer of plain text (no GLM command tokens): WordPiece, byte-level BPE, SentencePiece.
///
/// Implementations are immutable after loading and safe to share across threads.
public protocol TextTokenizer: Sendable {
    /// Ids of `text`, with no special tokens added.
    func encode(_ text: String) -> [Int]
    /// Readable text for `ids` (WordPiece `##` joins, byte decoding, `▁` → space).
    func decode(_ ids: [Int]) -> String
    /// The vocabulary string of `id` (e.g. `"##ing"`, `"Ġthe"`), or nil when out of range.
    func token(for id: Int) -> String?
    /// The id of a vocabulary string, or nil.
    func id(for token: String) -> Int?
    /// Number of entries in the text vocabulary (before GLM command tokens are appended).
    var vocabularySize: Int { get }
}

/// The GLM command-token ids of one tokenizer family (docs/official-glm.md §3). Ids that a family does not
/// define are nil.
public struct CommandTokens: Sendable, Equatable, Codable {
    /// Padding; equal to `eos` in every official tokenizer.
    public var pad: Int
    /// End of document (appended after every document in pretraining data).
    public var eos: Int
    /// `[CLS]` (the official "ENC" token) that starts every sample.
    public var cls: Int
    /// `[SEP]`.
    public var sep: Int
    /// `[MASK]`: a short blank (token-level objective, cloze).
    public var mask: Int
    /// `[UNK]`.
    public var unk: Int
    /// `<|startofpiece|>`: starts each span in Part B.
    public var sop: Int
    /// `<|endofpiece|>`: ends each span in Part B.
    public var eop: Int
    /// `[gMASK]`: a blank at the end to generate into (models trained with task masks).
    public var gMask: Int?
    /// `[sMASK]`: a sentence-level blank (models trained with task masks).
    public var sMask: Int?
    /// `[dBLOCK]`: used only when pretraining with block/decoder masks; nil for released models.
    public var dBlock: Int?

    public init(pad: Int, eos: Int, cls: Int, sep: Int, mask: Int, unk: Int, sop: Int, eop: Int,
                gMask: Int? = nil, sMask: Int? = nil, dBlock: Int? = nil) {
        self.pad = pad; self.eos = eos; self.cls = cls; self.sep = sep; self.mask = mask; self.unk = unk
        self.sop = sop; self.eop = eop; self.gMask = gMask; self.sMask = sMask; self.dBlock = dBlock
    }
}
