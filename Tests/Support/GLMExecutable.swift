import Foundation

/// The `glm` executable the tests run, and the repository it was built from.
public enum GLMExecutable {
    /// The repository root (this file is Tests/Support/GLMExecutable.swift).
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `glm` executable SwiftPM built next to the running test bundle (`swift build --build-tests`
    /// builds every product), else the release build of this checkout; nil when neither exists.
    public static let url: URL? = {
        let fm = FileManager.default
        for start in [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()] {
            var dir = start
            for _ in 0..<3 {
                let u = dir.appendingPathComponent("glm")
                if fm.isExecutableFile(atPath: u.path) { return u }
                dir = dir.deletingLastPathComponent()
            }
        }
        let fallback = repository.appendingPathComponent(".build/release/glm")
        return fm.isExecutableFile(atPath: fallback.path) ? fallback : nil
    }()

    /// Why a test that needs the executable is skipped.
    public static let notBuilt = "the glm executable was not built next to the tests (\(Bundle.main.bundleURL.path)); run `swift build -c release --build-tests` first"

    /// Runs `glm args` to its end (see ``runProcess(_:_:stdin:environment:currentDirectory:)``).
    /// Call only when ``url`` is not nil (tests skip otherwise).
    public static func run(_ args: [String], stdin: String? = nil, environment: [String: String] = [:],
                           currentDirectory: URL? = nil) throws -> (rc: Int32, out: String, err: String) {
        guard let url else { throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: notBuilt]) }
        return try runProcess(url, args, stdin: stdin, environment: environment, currentDirectory: currentDirectory)
    }
}

/// Runs `executable args` to its end and returns its exit status, stdout and stderr. `environment`
/// is added to this process's; `stdin` (or nothing) is its standard input. stderr is drained on its
/// own thread, so neither pipe can fill up and block the program.
public func runProcess(_ executable: URL, _ args: [String], stdin: String? = nil, environment: [String: String] = [:],
                       currentDirectory: URL? = nil) throws -> (rc: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    if let currentDirectory { p.currentDirectoryURL = currentDirectory }
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    try p.run()
    let drained = DispatchSemaphore(value: 0)
    let errData = DataBox()
    Thread { errData.data = err.fileHandleForReading.readDataToEndOfFile(); drained.signal() }.start()
    if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
    try inp.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    drained.wait()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errData.data, as: UTF8.self))
}

private final class DataBox: @unchecked Sendable { var data = Data() }
