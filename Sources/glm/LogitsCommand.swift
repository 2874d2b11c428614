import ArgumentParser
import Foundation
import GLM
import GLMNN

/// `glm logits`: the parity tool — logits, loss and gradients for a JSON batch, as safetensors.
struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Run a model on a JSON batch and write logits (and loss, gradients) as safetensors.",
        discussion: """
        The input JSON holds input_ids [b][s], position_ids [b][2][s], attention_mask (one sep per
        sample, a scalar sep, or an explicit [b][1][s][s] 0/1 mask), and optionally targets [b][s]
        and loss_mask [b][s]. Output keys: logits [b,s,V] f32; with targets, loss; with --grads,
        grad.<official parameter key>. Eval mode (no dropout).

        Example:
          glm logits --model runs/tiny/final --input case.json --output out.safetensors --grads
        """)

    @Option(name: .long, help: "Model folder (config.json + model.safetensors or pytorch_model.bin) or official checkpoint folder.")
    var model: String
    @Option(name: .long, help: "Input batch JSON.")
    var input: String
    @Option(name: .long, help: "Output .safetensors file.")
    var output: String
    @Flag(name: .long, help: "Also write the gradient of the loss w.r.t. every parameter (needs targets).")
    var grads = false

    func run() throws {
        let c = try ParityCase(contentsOf: URL(fileURLWithPath: input))
        if grads && c.targets == nil {
            throw ValidationError("--grads needs \"targets\" and \"loss_mask\" in \(input)")
        }
        let m = try GLMModel.load(URL(fileURLWithPath: model))
        try m.config.checkMemory(batch: c.batch, sequence: c.length, workload: grads ? .training : .inference,
                                 for: "glm logits on \(input)")
        let out = try m.parity(c, grads: grads)
        try SafeTensors.write(out, to: URL(fileURLWithPath: output))
        if let loss = out["loss"]?.floats().first {
            FileHandle.standardError.write(Data("loss \(loss)\n".utf8))
        }
    }
}

/// `glm convert`: any supported checkpoint → a Hugging Face shaped folder.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert an official .pt / pytorch_model.bin / safetensors checkpoint into a HF-shaped folder.",
        discussion: """
        The output folder gets config.json, model.safetensors (official keys, no prefix, f32) and the
        tokenizer files found next to the input. The model shape comes from config.json next to the
        input, or from --preset.

        Examples:
          glm convert --input glm-large/ --output glm-large-hf/
          glm convert --input blocklm-large/ --preset glm-large --output glm-large-hf/
          glm convert --input ckpt/ --config my-config.json --output my-model/
        """)

    @Option(name: .long, help: "Checkpoint file or folder.")
    var input: String
    @Option(name: .long, help: "Output folder (replaced atomically if it exists; only a model folder unless --force).")
    var output: String
    @Flag(name: .long, help: "Replace --output even if it is a file or a folder that holds no model.")
    var force = false
    @Option(name: .long, help: "Model shape when the input has no config.json: \(GLMConfig.presets.keys.sorted().joined(separator: ", ")).")
    var preset: String?

    @Option(name: .long, help: "A Hugging Face GLM config.json giving the model shape (instead of --preset).")
    var config: String?

    func run() throws {
        var config: GLMConfig? = try self.config.map { try GLMConfig.load(URL(fileURLWithPath: $0)) }
        if let preset {
            guard let c = GLMConfig.presets[preset] else {
                throw ValidationError("unknown preset '\(preset)'; choose from \(GLMConfig.presets.keys.sorted().joined(separator: ", "))")
            }
            config = c
        }
        let url = URL(fileURLWithPath: input)
        let destination = URL(fileURLWithPath: output)
        try ModelFolder.checkReplaceable(destination, force: force)  // before minutes of loading
        let m = try GLMModel.load(url, config: config)
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir)
        let folder = isDir.boolValue ? url : url.deletingLastPathComponent()
        let tokenizerNames = ["vocab.txt", "vocab.json", "merges.txt", "encoder.json", "vocab.bpe", "tokenizer.json",
                              "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "cog-pretrain.model"]
        let files = tokenizerNames.map { folder.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
        try m.save(to: destination, tokenizerFiles: files)
        print("wrote \(output) (\(m.store.parameters.count) tensors, \(files.count) tokenizer files)")
    }
}
