import ArgumentParser
import Foundation

/// Entry point.
@main
enum GLMMain {
    static func main() async {
        await GLMCommand.main()
    }
}

/// The `glm` command: every job of swift-glm, each a subcommand.
struct GLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glm",
        abstract: "GLM (General Language Model) in Swift: pretrain, generate, convert, benchmark.",
        subcommands: [
            PretrainCommand.self,
            FinetuneCommand.self,
            PrepareCommand.self,
            BatchesCommand.self,
            ClozeCommand.self,
            EvaluateCommand.self,
            TokenizeCommand.self,
            LogitsCommand.self,
            ConvertCommand.self,
            GenerateCommand.self,
            BenchCommand.self,
            ServeCommand.self,
            LoadTestCommand.self,
        ]
    )
}
