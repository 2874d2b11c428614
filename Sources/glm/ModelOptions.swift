import ArgumentParser
import Foundation
import GLM

/// `--bf16`, the one precision switch of the commands that run a model (generate, evaluate, serve).
struct PrecisionOptions: ParsableArguments {
    @Flag(name: .long, help: "bf16 matmuls (faster on CPUs with bf16 support; slightly different numbers).")
    var bf16 = false

    /// The model at `url` with this precision.
    func load(_ url: URL) throws -> GLMModel {
        let m = try GLMModel.load(url)
        if bf16 { m.bf16 = true }
        return m
    }
}
