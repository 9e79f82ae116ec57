// swift-tools-version:6.0
// An app that embeds rft as a library: its own data, reward and model, trained with PolicyGradientTrainer.
import PackageDescription

let package = Package(
    name: "EmbedTrainer",
    dependencies: [.package(name: "rft", path: "../..")],
    targets: [
        .executableTarget(
            name: "EmbedTrainer",
            dependencies: [.product(name: "RFT", package: "rft"), .product(name: "RFTModel", package: "rft")]),
    ],
    swiftLanguageModes: [.v5]
)
