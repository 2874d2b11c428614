import Foundation
import GLM
import GLMTokenizers

/// The model a server holds, with its tokenizer: loaded once at start, never changed by a request.
public final class ServedModel: Sendable {
    /// Name in `/v1/models` and the `model` field of completions.
    public let id: String
    public let model: GLMModel
    public let tokenizer: GLMTokenizer
    public let tokens: BlankFillingTokens
    /// Unix time of the load (`created` in `/v1/models`).
    public let created: Int

    public init(id: String, model: GLMModel, tokenizer: GLMTokenizer) throws {
        guard tokenizer.numTokens <= model.config.vocabSize else {
            throw ServeError.model("the tokenizer has \(tokenizer.numTokens) ids but the model's vocabulary has \(model.config.vocabSize) rows; they do not belong together")
        }
        self.id = id
        self.model = model
        self.tokenizer = tokenizer
        tokens = BlankFillingTokens(tokenizer: tokenizer)
        created = Int(Date().timeIntervalSince1970)
    }

    /// Loads the model folder (config.json, weights, tokenizer files) as `glm generate` does.
    public static func load(folder path: String, id: String? = nil, bf16: Bool = false) throws -> ServedModel {
        let (url, folder): (URL, URL)
        do { (url, folder) = try ModelFolder.locate(path) } catch { throw ServeError.model("\(error)") }
        let tokenizer: GLMTokenizer
        do { tokenizer = try GLMTokenizer(folder: folder) } catch {
            throw ServeError.model("cannot load the tokenizer of model \(path): \(error)")
        }
        let model: GLMModel
        do { model = try GLMModel.load(url) } catch {
            throw ServeError.model("cannot load model \(path): \(error)")
        }
        model.bf16 = bf16
        return try ServedModel(id: id ?? folder.standardizedFileURL.lastPathComponent, model: model, tokenizer: tokenizer)
    }

    /// `config` with the vocabulary padding rows banned (ids the tokenizer cannot decode).
    func withPaddingBanned(_ config: GenerationConfig) -> GenerationConfig {
        var c = config
        c.banPadding(tokenizerSize: tokenizer.numTokens, vocabSize: model.config.vocabSize)
        return c
    }
}
