import Foundation

/// Hugging Face `tokenizer.json` files, mapped onto this package's tokenizers.
///
/// Supported: `WordPiece` with `BertNormalizer` (or none) and `BertPreTokenizer`; `BPE` with the
/// `ByteLevel` pre-tokenizer (GPT-2/RoBERTa style); `Unigram` with a `Precompiled` (and/or NFKC,
/// `Replace`, `Strip`, `Lowercase`) normaliser and a `Metaspace` pre-tokenizer. Anything else is
/// reported as unsupported, naming the file and the component, rather than tokenized differently.
/// `added_tokens` are split out of the raw text first (longest first, with `lstrip`/`rstrip`); tokens
/// marked `normalized` are matched on the raw text too, and `single_word` is reported unsupported.
public enum HFTokenizerJSON {
    /// Builds the text tokenizer a `tokenizer.json` describes; throws ``TokenizerError`` naming the file
    /// and the field or component that is malformed or unsupported.
    public static func load(_ url: URL) throws -> any TextTokenizer {
        let file = url.path
        guard let root = try FileIO.readJSON(url) as? [String: Any] else {
            throw TokenizerError.malformed(file: file, line: nil, reason: "expected a JSON object")
        }
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.malformed(file: file, line: nil, reason: "no \"model\" object")
        }
        let type = (model["type"] as? String) ?? (model["merges"] != nil ? "BPE" : "?")
        let normalizer = root["normalizer"] as? [String: Any]
        let pre = root["pre_tokenizer"] as? [String: Any]
        let inner: any TextTokenizer
        switch type {
        case "WordPiece": inner = try wordPiece(model, normalizer, pre, file)
        case "BPE": inner = try bpe(model, normalizer, pre, file)
        case "Unigram":
            inner = try HFUnigramTokenizer(model: model, normalizer: normalizer, preTokenizer: pre,
                                           decoder: root["decoder"] as? [String: Any], file: file)
        default: throw TokenizerError.unsupported(file: file, feature: "model type \(type)")
        }
        guard let addedList = root["added_tokens"] as? [[String: Any]], !addedList.isEmpty else { return inner }
        var added = [HFAddedTokensTokenizer.Added](), contents = [Int: String]()
        for (k, a) in addedList.enumerated() {
            guard let c = a["content"] as? String, let n = a["id"] as? NSNumber, let id = Int(exactly: n.doubleValue) else {
                throw TokenizerError.malformed(file: file, line: nil, reason: "added_tokens[\(k)] lacks content or an integer id")
            }
            guard id >= 0, id < GLMTokenizer.maxVocabularySize else {
                throw TokenizerError.malformed(file: file, line: nil, reason: "added_tokens[\(k)] has id \(id), outside 0..<\(GLMTokenizer.maxVocabularySize)")
            }
            if (a["single_word"] as? Bool) == true { throw TokenizerError.unsupported(file: file, feature: "added token \(c.debugDescription) with single_word") }
            guard !c.isEmpty else { continue }
            added.append(.init(content: Array(c.utf8), id: id, lstrip: (a["lstrip"] as? Bool) ?? false, rstrip: (a["rstrip"] as? Bool) ?? false))
            contents[id] = c
        }
        return HFAddedTokensTokenizer(model: inner, added: added, contents: contents)
    }

    static func typeName(_ o: [String: Any]?) -> String { (o?["type"] as? String) ?? "null" }

    /// Flattens `Sequence` components into their parts.
    static func flatten(_ o: [String: Any]?, key: String) -> [[String: Any]] {
        guard let o else { return [] }
        if typeName(o) == "Sequence", let parts = o[key] as? [[String: Any]] { return parts.flatMap { flatten($0, key: key) } }
        return [o]
    }

    static func vocabArray(_ model: [String: Any], _ file: String) throws -> [String: Int] {
        guard let v = model["vocab"] as? [String: Any] else {
            throw TokenizerError.malformed(file: file, line: nil, reason: "model.vocab is not an object of token → id")
        }
        var out = [String: Int]()
        for (k, x) in v {
            guard let n = x as? NSNumber, let id = Int(exactly: n.doubleValue), id >= 0, id < GLMTokenizer.maxVocabularySize else {
                throw TokenizerError.malformed(file: file, line: nil, reason: "model.vocab id of \(k.debugDescription) is not an integer in 0..<\(GLMTokenizer.maxVocabularySize)")
            }
            out[k] = id
        }
        return out
    }

    static func wordPiece(_ model: [String: Any], _ normalizer: [String: Any]?, _ pre: [String: Any]?, _ file: String) throws -> WordPieceTokenizer {
        let vocab = try vocabArray(model, file)
        // Checked before the id table is allocated: one id of 2^62 must not ask for exabytes.
        guard let maxId = vocab.values.max(), maxId < vocab.count else {
            throw TokenizerError.malformed(file: file, line: nil, reason: "model.vocab ids are not 0..<\(vocab.count)")
        }
        var tokens = [String](repeating: "", count: maxId + 1)
        for (t, i) in vocab { tokens[i] = t }
        var o = WordPieceTokenizer.Options()
        o.unknownToken = (model["unk_token"] as? String) ?? "[UNK]"
        o.continuingSubwordPrefix = (model["continuing_subword_prefix"] as? String) ?? "##"
        o.maxInputCharsPerWord = (model["max_input_chars_per_word"] as? Int) ?? 100
        switch typeName(normalizer) {
        case "BertNormalizer":
            o.cleanText = (normalizer?["clean_text"] as? Bool) ?? true
            o.handleChineseChars = (normalizer?["handle_chinese_chars"] as? Bool) ?? true
            o.lowercase = (normalizer?["lowercase"] as? Bool) ?? true
            o.stripAccents = normalizer?["strip_accents"] as? Bool
        case "null":
            o.cleanText = false; o.handleChineseChars = false; o.lowercase = false; o.stripAccents = false
        case let t: throw TokenizerError.unsupported(file: file, feature: "normalizer \(t) with WordPiece")
        }
        guard typeName(pre) == "BertPreTokenizer" else {
            throw TokenizerError.unsupported(file: file, feature: "pre_tokenizer \(typeName(pre)) with WordPiece (only BertPreTokenizer)")
        }
        return try WordPieceTokenizer(tokens: tokens, options: o, file: file)
    }

    static func bpe(_ model: [String: Any], _ normalizer: [String: Any]?, _ pre: [String: Any]?, _ file: String) throws -> ByteLevelBPETokenizer {
        guard normalizer == nil else { throw TokenizerError.unsupported(file: file, feature: "normalizer \(typeName(normalizer)) with BPE") }
        let parts = flatten(pre, key: "pretokenizers")
        guard parts.count == 1, typeName(parts[0]) == "ByteLevel" else {
            throw TokenizerError.unsupported(file: file, feature: "pre_tokenizer \(typeName(pre)) with BPE (only ByteLevel)")
        }
        if let r = parts[0]["use_regex"] as? Bool, !r {
            throw TokenizerError.unsupported(file: file, feature: "ByteLevel with use_regex false")
        }
        for k in ["continuing_subword_prefix", "end_of_word_suffix"] where !((model[k] as? String) ?? "").isEmpty {
            throw TokenizerError.unsupported(file: file, feature: "BPE \(k)")
        }
        if (model["byte_fallback"] as? Bool) == true { throw TokenizerError.unsupported(file: file, feature: "BPE byte_fallback") }
        if let d = model["dropout"] as? NSNumber, d.doubleValue > 0 { throw TokenizerError.unsupported(file: file, feature: "BPE dropout") }
        let vocab = try vocabArray(model, file)
        var merges = [(String, String)]()
        for (k, m) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let s = m as? String {
                let p = s.split(separator: " ", omittingEmptySubsequences: false)
                guard p.count == 2 else { throw TokenizerError.malformed(file: file, line: nil, reason: "model.merges[\(k)] is not \"a b\"") }
                merges.append((String(p[0]), String(p[1])))
            } else if let a = m as? [String], a.count == 2 {
                merges.append((a[0], a[1]))
            } else {
                throw TokenizerError.malformed(file: file, line: nil, reason: "model.merges[\(k)] is neither \"a b\" nor [a, b]")
            }
        }
        return try ByteLevelBPETokenizer(vocab: vocab, merges: merges, addPrefixSpace: (parts[0]["add_prefix_space"] as? Bool) ?? false,
                                         vocabName: file + " (model.vocab)", mergesName: file + " (model.merges)")
    }
}
