import Foundation
import GLMTokenizers

/// The JSON object of one filled prompt: what `glm generate --json` prints per line and what
/// `glm serve` answers on `POST /v1/fill`. One type and one encoder for both, so the two cannot
/// drift apart (docs/generate.md, docs/serve.md).
///
/// ```json
/// {"fills":[{"ids":[1010,6331],"mask":"[MASK]","position":4,"stop":"eop","text":", bible"}],
///  "generated_tokens":2,"prompt":"there is a [MASK] here.","seconds":0.066,"text":"there is a, bible here."}
/// ```
public struct FilledTextJSON: Codable, Sendable, Equatable {
    /// One blank's fill.
    public struct Fill: Codable, Sendable, Equatable {
        /// The mask token's spelling (`[MASK]`, `[sMASK]`, `[gMASK]`).
        public var mask: String
        /// The mask's index in the context ids (`[CLS]` = 0).
        public var position: Int
        /// The fill as text.
        public var text: String
        /// The generated ids, without sop and the stop token.
        public var ids: [Int]
        /// `eop`, `eos` or `length`.
        public var stop: String
        /// Beam search only: the hypothesis score (absent when not finite).
        public var score: Double?
    }

    /// The prompt as given.
    public var prompt: String
    /// The prompt with every blank filled.
    public var text: String
    /// One per blank, left to right.
    public var fills: [Fill]
    /// Generated tokens over all fills.
    public var generated_tokens: Int
    /// Wall time of this prompt, from the start of decoding (or of the request) to its last fill.
    public var seconds: Double

    /// The object for `filled`, mask spellings from `tokenizer`.
    public init(_ filled: FilledText, tokenizer: GLMTokenizer, seconds: Double) {
        prompt = filled.prompt
        text = filled.text
        fills = zip(filled.fills, filled.fillTexts).map { fill, text in
            Fill(mask: tokenizer.tokenString(fill.maskId) ?? "\(fill.maskId)", position: fill.maskPosition, text: text,
                 ids: fill.tokens, stop: fill.stop, score: fill.score.flatMap { $0.isFinite ? $0 : nil })
        }
        generated_tokens = filled.generatedTokens
        self.seconds = seconds
    }

    /// The encoder of this object everywhere: sorted keys, slashes unescaped, one line.
    public static func encoder() -> JSONEncoder {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return enc
    }

    /// The object as one line of JSON (no trailing newline).
    public func encoded() throws -> Data { try Self.encoder().encode(self) }
}
