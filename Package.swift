// swift-tools-version: 6.1
import PackageDescription
import Foundation

/// SIMD kernels are compiled for the build machine's vector width, like `-march=native`:
/// AVX-512 where /proc/cpuinfo has it, AVX2+FMA otherwise. Override with GLM_TARGET_CPU
/// (e.g. `GLM_TARGET_CPU=haswell` to build a binary for older x86 machines, `none` for no flag).
let targetCPU: String? = {
    if let forced = ProcessInfo.processInfo.environment["GLM_TARGET_CPU"] {
        return forced == "none" ? nil : forced
    }
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
    if info.contains(" avx512f") && info.contains(" avx512bw") && info.contains(" avx512vl") { return "skylake-avx512" }
    if info.contains(" avx2") && info.contains(" fma") { return "haswell" }
    return nil
}()

let kernelSettings: [SwiftSetting] = targetCPU.map {
    [.unsafeFlags(["-target-cpu", $0, "-enforce-exclusivity=unchecked"])]
} ?? [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "swift-glm",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "glm", targets: ["glm"]),
        .library(name: "GLMSystem", targets: ["GLMSystem"]),
        .library(name: "GLMTensor", targets: ["GLMTensor"]),
        .library(name: "GLMNN", targets: ["GLMNN"]),
        .library(name: "GLMTokenizers", targets: ["GLMTokenizers"]),
        .library(name: "GLM", targets: ["GLM"]),
        .library(name: "GLMData", targets: ["GLMData"]),
        .library(name: "GLMTasks", targets: ["GLMTasks"]),
        .library(name: "GLMTrain", targets: ["GLMTrain"]),
        .library(name: "GLMServe", targets: ["GLMServe"]),
        .library(name: "GLMDistributed", targets: ["GLMDistributed"]),
    ],
    // `swift build --traits MPI` links Open MPI for data-parallel training under mpirun
    // (docs/distributed.md); without it (the default) nothing needs MPI and one process trains.
    traits: [
        .trait(name: "MPI", description: "Data-parallel training across processes and hosts over MPI (libopenmpi-dev)."),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Only for `swift package generate-documentation` (the DocC catalogs); nothing links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
        // The HTTP server of GLMServe (`glm serve`); no library below it depends on a server.
        // Default traits off: neither swift-configuration nor the full-Foundation form coders are used.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
    ],
    targets: [
        // oneDNN from Debian's libdnnl-dev.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // MPI from Debian's libopenmpi-dev (only with the MPI trait).
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),
        // Durable files (atomic file/folder replacement, locks, checksums, mappings), memory limits, the JSON parser.
        .target(name: "GLMSystem", swiftSettings: kernelSettings),
        .target(name: "GLMTensor", dependencies: ["CDNNL"], swiftSettings: kernelSettings),
        .target(name: "GLMDistributed",
                dependencies: ["GLMTensor", .target(name: "CMPI", condition: .when(traits: ["MPI"]))],
                swiftSettings: kernelSettings),
        .target(name: "GLMNN", dependencies: ["GLMTensor", "GLMSystem"], swiftSettings: kernelSettings),
        .target(name: "GLMTokenizers", dependencies: ["GLMSystem"], swiftSettings: kernelSettings),
        .target(name: "GLM", dependencies: ["GLMNN", "GLMTokenizers", "GLMSystem"], swiftSettings: kernelSettings),
        .target(name: "GLMData", dependencies: ["GLMTokenizers", "GLMSystem"], swiftSettings: kernelSettings),
        .target(name: "GLMTasks", dependencies: ["GLM", "GLMData", "GLMSystem"], swiftSettings: kernelSettings),
        .target(name: "GLMTrain", dependencies: ["GLM", "GLMData", "GLMTasks", "GLMDistributed"], swiftSettings: kernelSettings),
        .target(
            name: "GLMServe",
            dependencies: [
                "GLM", "GLMTokenizers", "GLMSystem",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "glm",
            dependencies: [
                "GLMSystem", "GLMTensor", "GLMNN", "GLMTokenizers", "GLM", "GLMData", "GLMTasks", "GLMTrain", "GLMServe", "GLMDistributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: kernelSettings
        ),
        // What the test targets share: finding and running the built `glm`, fixture model folders.
        .target(name: "GLMTestSupport", path: "Tests/Support"),
        .testTarget(name: "GLMSystemTests", dependencies: ["GLMSystem"]),
        .testTarget(name: "GLMTensorTests", dependencies: ["GLMTensor", "GLMTestSupport"]),
        .testTarget(name: "GLMNNTests", dependencies: ["GLMNN", "GLM"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GLMTokenizersTests", dependencies: ["GLMTokenizers"], resources: [.copy("Goldens")]),
        .testTarget(name: "GLMTests", dependencies: ["GLM", "GLMTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GLMDataTests", dependencies: ["GLMData"]),
        .testTarget(name: "GLMTasksTests", dependencies: ["GLMTasks", "GLMSystem", "GLMTestSupport"]),
        .testTarget(name: "GLMTrainTests", dependencies: ["GLMTrain", "GLMTestSupport"]),
        .testTarget(name: "GLMServeTests", dependencies: ["GLMServe", "GLM", "GLMTokenizers", "GLMSystem", "GLMTestSupport"]),
        .testTarget(name: "GLMDistributedTests", dependencies: ["GLMDistributed", "GLMTrain", "GLMTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets (Fuzz/Sources), only when GLM_FUZZ is set: Fuzz/run.sh builds them with
// `-sanitize=fuzzer,address -parse-as-library` into their own build folder; normal builds never see them.
if ProcessInfo.processInfo.environment["GLM_FUZZ"] != nil {
    package.targets.append(.target(name: "FuzzSupport", path: "Fuzz/Sources/FuzzSupport"))
    let fuzzTargets: [(String, [Target.Dependency])] = [
        ("FuzzSafeTensors", ["GLMNN"]), ("FuzzTorchFile", ["GLMNN"]), ("FuzzPickle", ["GLMNN"]),
        ("FuzzVocabTxt", ["GLMTokenizers"]), ("FuzzBPE", ["GLMTokenizers"]), ("FuzzSentencePiece", ["GLMTokenizers", "GLMSystem"]),
        ("FuzzTokenizerJSON", ["GLMTokenizers"]), ("FuzzShards", ["GLMData"]), ("FuzzConfig", ["GLM"]), ("FuzzLogitsCase", ["GLM"]),
    ]
    for (name, deps) in fuzzTargets {
        package.targets.append(.executableTarget(name: name, dependencies: ["FuzzSupport"] + deps, path: "Fuzz/Sources/\(name)"))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
