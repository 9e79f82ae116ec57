// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "rft",
    products: [
        .library(name: "RFT", targets: ["RFT"]),
        .library(name: "RFTModel", targets: ["RFTModel"]),
        .library(name: "RFTTensor", targets: ["RFTTensor"]),
        .library(name: "RFTMPI", targets: ["RFTMPI"]),
        .executable(name: "rft", targets: ["rft"]),
    ],
    // `swift build --traits MPI`: `mpirun -np N rft …` runs data-parallel over OpenMPI (apt:
    // libopenmpi-dev); without the trait nothing needs MPI and every run is one process.
    traits: [.trait(name: "MPI", description: "data-parallel runs under mpirun, through OpenMPI (target RFTMPI)")],
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
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "RFTTensor", dependencies: ["COpenBLAS", "CKernels"]),
        .target(name: "RFTModel", dependencies: ["RFTTensor"]),
        .target(name: "RFT", dependencies: ["RFTModel", "RFTTensor", "CZstd", "Yams"]),
        .target(name: "RFTMPI", dependencies: ["RFT", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]),
        .executableTarget(
            name: "rft",
            dependencies: ["RFT", .target(name: "RFTMPI", condition: .when(traits: ["MPI"])),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "rft-bench",
            dependencies: ["RFT", "RFTModel", "RFTTensor", .target(name: "RFTMPI", condition: .when(traits: ["MPI"]))],
            path: "benchmarks/Sources/rft-bench"),
        .testTarget(name: "RFTTensorTests", dependencies: ["RFTTensor", "CKernels"]),
        .testTarget(
            name: "RFTModelTests", dependencies: ["RFTModel"],
            exclude: ["Fixtures"]),  // read through #filePath: the fixture and the script that made it
        .testTarget(name: "RFTTests", dependencies: ["RFT"]),
    ],
    swiftLanguageModes: [.v5]
)
