// swift-tools-version:5.4
import PackageDescription

let package = Package(
    name: "kms-fuzz",
    dependencies: [.package(name: "kms", path: "..")],
    targets: [
        .executableTarget(
            name: "kms-fuzz",
            dependencies: [.product(name: "KMSFuzzTargets", package: "kms")]
        ),
    ]
)
