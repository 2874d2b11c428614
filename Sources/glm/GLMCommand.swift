import ArgumentParser
import Foundation

/// Entry point.
@main
enum GLMMain {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        var command: ParsableCommand
        do { command = try GLMCommand.parseAsRoot(arguments) } catch {
            // Parse errors get a hint when a flag was followed by a negative number.
            if let hint = GLMCommand.negativeNumberHint(arguments) {
                FileHandle.standardError.write(Data((GLMCommand.fullMessage(for: error) + "\nHint: \(hint)\n").utf8))
                GLMCommand.exit(withError: ExitCode(GLMCommand.exitCode(for: error).rawValue))
            }
            GLMCommand.exit(withError: error)
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand { try await asyncCommand.run() } else { try command.run() }
        } catch {
            GLMCommand.exit(withError: error)
        }
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
