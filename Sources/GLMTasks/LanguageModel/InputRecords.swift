/// JSON-able records of the inputs the seq2seq and zero-shot LM tasks build, one per sample, padded
/// as the official datasets pad them: for people reading them and for side-by-side checks against
/// the official code (the same field names as `glm cloze`: `input_ids`, `position_ids` as
/// `[positions, blocks]`, `sep`, `target_ids`, `loss_mask`).
public enum InputRecords {
    /// LAMBADA-style samples: `id`, `text`, `target` (the decoded target ids), and the official
    /// sample padded with eos to the sequence length.
    public static func lambada(_ task: Lambada, texts: [(text: String, location: String)]) throws -> [[String: Any]] {
        try texts.enumerated().map { i, t in
            let (_, target) = try task.tokens(t.text)
            var r = try task.officialSample(t.text, id: "\(i)").record
            r["text"] = t.text
            r["target"] = task.tokenizer?.decode(target) ?? ""
            r["target_token_ids"] = target
            return r
        }
    }

    /// Perplexity windows: `document`, `window`, and each official window padded with eos to
    /// `seqLength + 1`; first a summary record with `tokens`, `words` and `windows`.
    public static func perplexity(_ task: Perplexity, corpus: Perplexity.Corpus) throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        var count = 0
        for (d, doc) in corpus.documents.enumerated() {
            for (j, w) in try task.windows(document: doc, id: "doc-\(d)-").enumerated() {
                var r = w.padded(to: task.paddedLength, with: task.commands.eos).record
                r["document"] = d
                r["window"] = j
                out.append(r)
                count += 1
            }
        }
        let summary: [String: Any] = ["tokens": corpus.tokens, "words": corpus.words, "windows": count,
                                      "seq_length": task.seqLength, "overlap": task.overlap]
        return [summary] + out
    }

    /// Seq2seq samples: `id`, `source`, `target`, `reference` and the training or evaluation sample
    /// (training samples are already padded to source + target length).
    public static func seq2seq(_ encoder: Seq2SeqEncoder, examples: [Seq2SeqExample], training: Bool) throws -> [[String: Any]] {
        try examples.map { ex in
            var r = try (training ? encoder.training(ex) : encoder.evaluation(ex)).record
            r["source"] = ex.source
            r["target"] = ex.target
            r["reference"] = encoder.reference(ex)
            if let a = ex.answer { r["answer"] = a }
            return r
        }
    }

    /// Blank-infilling evaluation inputs: `id`, `source`, `reference`, and Part A + sop at the
    /// first mask (``BlankInfilling/evaluation(source:id:)``).
    public static func blankInfilling(_ task: BlankInfilling, examples: [BlankInfillingExample]) throws -> [[String: Any]] {
        try examples.map { ex in
            let sample: EncodedSample
            do { sample = try task.evaluation(source: ex.source, id: ex.id) } catch let TaskError.data(_, _, message) {
                throw TaskError.data(file: ex.location, line: nil, message: message)
            }
            var r = sample.record
            r["source"] = ex.source
            r["reference"] = ex.reference
            return r
        }
    }
}
