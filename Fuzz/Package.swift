// swift-tools-version:5.4
// The libFuzzer executable for the fuzz targets of the root package (README "Fuzzing"), a
// package of its own so that only scripts/fuzz builds it, with sanitizers, into its own scratch
// folder:
//
//     swift build --package-path Fuzz --scratch-path .build-fuzz \
//       -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//
// Tools version 5.4 on purpose: from 5.5 on, SwiftPM renames an executable's main so that tests
// can link it, and the link then wants a symbol that -parse-as-library (needed because libFuzzer
// brings its own main) never emits.
import PackageDescription

let package = Package(
    name: "kms-fuzz",
    dependencies: [.package(name: "kms", path: "..")],
    targets: [
        .executableTarget(
            name: "kms-fuzz",
            dependencies: [.product(name: "KMSFuzzTargets", package: "kms")]
        )
    ]
)
