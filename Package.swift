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
        .library(name: "GLMTensor", targets: ["GLMTensor"]),
        .library(name: "GLMNN", targets: ["GLMNN"]),
        .library(name: "GLMTokenizers", targets: ["GLMTokenizers"]),
        .library(name: "GLM", targets: ["GLM"]),
        .library(name: "GLMData", targets: ["GLMData"]),
        .library(name: "GLMTasks", targets: ["GLMTasks"]),
        .library(name: "GLMTrain", targets: ["GLMTrain"]),
        .library(name: "GLMServe", targets: ["GLMServe"]),
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
        .target(name: "GLMTensor", dependencies: ["CDNNL"], swiftSettings: kernelSettings),
        .target(name: "GLMNN", dependencies: ["GLMTensor"], swiftSettings: kernelSettings),
        .target(name: "GLMTokenizers", swiftSettings: kernelSettings),
        .target(name: "GLM", dependencies: ["GLMNN", "GLMTokenizers"], swiftSettings: kernelSettings),
        .target(name: "GLMData", dependencies: ["GLMTokenizers"], swiftSettings: kernelSettings),
        .target(name: "GLMTasks", dependencies: ["GLM", "GLMData"], swiftSettings: kernelSettings),
        .target(name: "GLMTrain", dependencies: ["GLM", "GLMData", "GLMTasks"], swiftSettings: kernelSettings),
        .target(
            name: "GLMServe",
            dependencies: [
                "GLM", "GLMTokenizers",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "glm",
            dependencies: [
                "GLMTensor", "GLMNN", "GLMTokenizers", "GLM", "GLMData", "GLMTasks", "GLMTrain", "GLMServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: kernelSettings
        ),
        .testTarget(name: "GLMTensorTests", dependencies: ["GLMTensor"]),
        .testTarget(name: "GLMNNTests", dependencies: ["GLMNN", "GLM"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GLMTokenizersTests", dependencies: ["GLMTokenizers"], resources: [.copy("Goldens")]),
        .testTarget(name: "GLMTests", dependencies: ["GLM"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GLMDataTests", dependencies: ["GLMData"]),
        .testTarget(name: "GLMTasksTests", dependencies: ["GLMTasks"]),
        .testTarget(name: "GLMTrainTests", dependencies: ["GLMTrain"]),
        .testTarget(name: "GLMServeTests", dependencies: ["GLMServe", "GLM", "GLMTokenizers"]),
    ],
    swiftLanguageModes: [.v6]
)
