// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "rft",
    products: [
        .library(name: "RFT", targets: ["RFT"]),
        .library(name: "RFTModel", targets: ["RFTModel"]),
        .library(name: "RFTTensor", targets: ["RFTTensor"]),
        .executable(name: "rft", targets: ["rft"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "RFTTensor", dependencies: ["COpenBLAS", "CKernels"]),
        .target(name: "RFTModel", dependencies: ["RFTTensor"]),
        .target(name: "RFT", dependencies: ["RFTModel", "RFTTensor", "CZstd", "Yams"]),
        .executableTarget(
            name: "rft",
            dependencies: ["RFT", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "rft-bench", dependencies: ["RFT", "RFTModel", "RFTTensor"],
            path: "benchmarks/Sources/rft-bench"),
        .testTarget(name: "RFTTensorTests", dependencies: ["RFTTensor", "CKernels"]),
        .testTarget(
            name: "RFTModelTests", dependencies: ["RFTModel"],
            exclude: ["Fixtures"]),  // read through #filePath: the fixture and the script that made it
        .testTarget(name: "RFTTests", dependencies: ["RFT"]),
    ],
    swiftLanguageModes: [.v5]
)
