import ArgumentParser
import Foundation

/// Entry point: settles the OpenMP environment, then runs ``GLMCommand``.
@main
enum GLMMain {
    static func main() async {
        OpenMPEnvironment.ensurePassiveWaiting()
        await GLMCommand.main()
    }
}

/// oneDNN (Debian's build) runs its GEMMs on OpenMP threads, which by default spin for a while
/// after each parallel region. Our own kernels run on other threads between GEMMs, so the
/// spinning steals a core from them: a training step measured 30–45% slower. libgomp reads
/// `OMP_WAIT_POLICY` only when it is loaded, before `main`, so when the variable is unset the
/// process re-executes itself once with `OMP_WAIT_POLICY=PASSIVE`. Setting the variable yourself
/// (e.g. `ACTIVE`) keeps your choice.
enum OpenMPEnvironment {
    static func ensurePassiveWaiting() {
        guard getenv("OMP_WAIT_POLICY") == nil else { return }
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv only returns on failure; carry on with the default policy.
    }
}

/// The `glm` command: every job of swift-glm, each a subcommand.
struct GLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glm",
        abstract: "GLM (General Language Model) in Swift: pretrain, generate, convert, benchmark.",
        subcommands: [
            PretrainCommand.self,
            PrepareCommand.self,
            BatchesCommand.self,
            TokenizeCommand.self,
            LogitsCommand.self,
            ConvertCommand.self,
            GenerateCommand.self,
            BenchCommand.self,
        ]
    )
}
