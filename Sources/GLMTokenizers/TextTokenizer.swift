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

/// The GLM command-token ids of one tokenizer family (glm-spec §3). Ids that a family does not
/// define are nil.
public struct CommandTokens: Sendable, Equatable, Codable {
    public var pad: Int
    public var eos: Int
    public var cls: Int
    public var sep: Int
    public var mask: Int
    public var unk: Int
    public var sop: Int
    public var eop: Int
    public var gMask: Int?
    public var sMask: Int?
    public var dBlock: Int?

    public init(pad: Int, eos: Int, cls: Int, sep: Int, mask: Int, unk: Int, sop: Int, eop: Int,
                gMask: Int? = nil, sMask: Int? = nil, dBlock: Int? = nil) {
        self.pad = pad; self.eos = eos; self.cls = cls; self.sep = sep; self.mask = mask; self.unk = unk
        self.sop = sop; self.eop = eop; self.gMask = gMask; self.sMask = sMask; self.dBlock = dBlock
    }
}
