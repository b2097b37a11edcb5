// swift-tools-version:6.0
import PackageDescription

// One target per layer; dependencies point one way (see README "Layout"):
// KMSDomain → KMSRPC → KMSProto / KMSWorkerProto → KMSDomain → KMSPolicy → KMSCrypto → KMSSigV4 /
// KMSAuditChain → KMSStore → KMSServer / KMSCryptoWorker → KMSClient → KMSEnvelope → executables.
// The edges link only their layers (scripts/check-layers): kms-cryptod KMSCryptoWorker,
// KMSWorkerProto, KMSCrypto, KMSDomain and KMSRPC; kms and kms-bench KMSClient, KMSEnvelope,
// KMSProto, KMSRPC and KMSDomain (swift-crypto, no OpenSSL).
let package = Package(
    name: "kms",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kms-cryptod", targets: ["kms-cryptod"]),
        .executable(name: "kmsd", targets: ["kmsd"]),
        .executable(name: "kms", targets: ["kms"]),
        .executable(name: "kms-bench", targets: ["kms-bench"]),
        .executable(name: "kms-k8s-plugin", targets: ["kms-k8s-plugin"]),
        .executable(name: "kms-agent", targets: ["kms-agent"]),
        .executable(name: "kms-xks-proxy", targets: ["kms-xks-proxy"]),
        .library(name: "KMSClient", targets: ["KMSClient"]),
        .library(name: "KMSEnvelope", targets: ["KMSEnvelope"]),
        .library(name: "KMSRPC", targets: ["KMSRPC"]),
        .library(name: "KMSProto", targets: ["KMSProto"]),
        .library(name: "KMSXKS", targets: ["KMSXKS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // gRPC, for the one API that is gRPC: the Kubernetes KMS v2 plugin's (kms-k8s-plugin).
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
    ],
    targets: [
        // Generated protobuf messages: the public KMS and admin services, and their AWS JSON form.
        .target(
            name: "KMSProto",
            dependencies: ["KMSRPC", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // Generated protobuf messages of the kmsd ↔ kms-cryptod service: all the worker links.
        .target(
            name: "KMSWorkerProto",
            // KMSDomain: its enums map onto the domain's types (WorkerEnums+Domain.swift).
            dependencies: ["KMSRPC", "KMSDomain", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // Length-prefixed frames, the RPC envelope, TLS and connection authentication (with the
        // access key proof, over swift-crypto), the server dispatcher and the multiplexing client;
        // the health probes and the connection drain both daemons share.
        .target(
            name: "KMSRPC",
            dependencies: [
                // KMSError, so that a failure is turned into an answer in one place.
                "KMSDomain",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                // The health probes' small HTTP listener (ProbeEndpoint), shared by kmsd and kms-cryptod.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The pure domain model: errors, limits, identifiers. No I/O.
        .target(name: "KMSDomain"),
        // The AWS policy language: parse, validate, evaluate. Pure, no I/O.
        .target(name: "KMSPolicy", dependencies: ["KMSDomain"]),
        // Small C shims over the system's OpenSSL 3 libcrypto (Debian: libssl-dev).
        .target(name: "CKMSOpenSSL", linkerSettings: [.linkedLibrary("crypto")]),
        // PKCS #11 v2.40's subset this project uses, over a module loaded at run time (dlopen): no
        // vendor's or p11-kit's header, no library linked at build time.
        .target(name: "CKMSPKCS11", linkerSettings: [.linkedLibrary("dl")]),
        // Token connections over CKMSPKCS11: login, a session pool, non-extractable AES keys, AES-GCM.
        // kms-cryptod's alone (AWS_CLOUDHSM custom key stores).
        .target(name: "KMSPKCS11", dependencies: ["CKMSPKCS11"]),
        // Ciphertext, wrapped-material and keyring formats; asymmetric, HMAC and import crypto;
        // the worker's half of SigV4 (signing keys). No network I/O.
        .target(
            name: "KMSCrypto",
            dependencies: [
                "KMSDomain",
                .product(name: "Crypto", package: "swift-crypto"),
                // OpenSSL for what swift-crypto lacks: RSA over a given digest, SHA-224,
                // secp256k1, AES key wrap with padding (RFC 5649).
                "CKMSOpenSSL",
            ]
        ),
        // SigV4's front-end half: the Authorization header, canonical requests, signature and
        // clock checks. kmsd's alone: kms-cryptod only derives signing keys (KMSCrypto).
        .target(
            name: "KMSSigV4",
            dependencies: ["KMSCrypto", "KMSDomain", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The audit log's hash chain: record hashes, where a run of records stops linking up, and
        // the stored form of a batch of records (a segment). kmsd's alone: kms-cryptod MACs the
        // chain heads it is given (KMSCrypto's AuditCheckpoint). Pure: a segment is bytes in a
        // ByteBuffer, so the fuzz targets read it without the database driver.
        .target(
            name: "KMSAuditChain",
            dependencies: [
                "KMSCrypto", "KMSDomain", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // PostgreSQL: migrations, keys, wrapped material versions, aliases, change notifications.
        .target(
            name: "KMSStore",
            dependencies: [
                "KMSDomain", "KMSAuditChain",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // The database's TLS (sslmode, sslrootcert).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The crypto worker: the only code that ever sees unwrapped key material.
        .target(
            name: "KMSCryptoWorker",
            dependencies: [
                "KMSWorkerProto", "KMSRPC", "KMSDomain", "KMSCrypto",
                // Keys held in PKCS #11 tokens (AWS_CLOUDHSM custom key stores).
                "KMSPKCS11",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // kmsd's core: key resolution, caches, the worker pool, one file per operation group.
        .target(
            name: "KMSServer",
            dependencies: [
                "KMSProto", "KMSWorkerProto", "KMSRPC", "KMSDomain", "KMSPolicy", "KMSCrypto", "KMSSigV4",
                "KMSAuditChain", "KMSStore",
                // The XKS proxy API's AAD composition for kms-xks-proxy's backend operations.
                "KMSXKS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The AWS External Key Store (XKS) proxy API, version 1: its JSON messages, sizes, error
        // names, and a client (HTTP/1.1 over TLS, SigV4 for kms-xks-proxy through KMSSigV4).
        // Below KMSServer, so that kmsd can call a proxy; links no store, server or worker code.
        .target(
            name: "KMSXKS",
            dependencies: [
                "KMSSigV4", "KMSCrypto", "KMSDomain",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The Swift client: pipelined connections to kmsd, typed errors, retries with backoff.
        // No KMSCrypto: a client links swift-crypto (through KMSRPC) and no OpenSSL.
        .target(
            name: "KMSClient",
            dependencies: [
                "KMSProto", "KMSRPC",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Envelope encryption in the AWS Encryption SDK's message format over KMSClient: the
        // message format itself is pure (no I/O); the KMS keyring is its only caller of kmsd.
        .target(
            name: "KMSEnvelope",
            dependencies: [
                "KMSClient", "KMSProto",
                .product(name: "Crypto", package: "swift-crypto"),
                // The data key cache's hit and miss counters.
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "kmsd",
            dependencies: [
                "KMSServer", "KMSStore", "KMSDomain", "KMSRPC",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The command-line client, in the manner of `aws kms`.
        .executableTarget(
            name: "kms",
            dependencies: [
                "KMSClient", "KMSEnvelope", "KMSProto", "KMSRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                // P-256 keys for `kms admin create-seal-key` (the sealing itself is KMSRPC's).
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The load-test harness.
        .executableTarget(
            name: "kms-bench",
            dependencies: [
                "KMSClient", "KMSDomain", "KMSProto", "KMSRPC",
                // `kms-bench envelope-cache`: the KMS calls KMSEnvelope's data key cache saves.
                "KMSEnvelope",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // --protocol aws-json: HTTP/1.1 over TLS, bodies in AWS JSON.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Generated messages and gRPC stubs of the Kubernetes KMS v2 plugin API (proto/k8s).
        .target(
            name: "KMSKubernetesProto",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ]
        ),
        // The Kubernetes sidecars' logic over KMSClient: the KMS v2 plugin service and its health
        // check; kms-agent's AWS JSON endpoint and caches. No server module: they are kmsd's
        // clients like any other.
        .target(
            name: "KMSKubernetes",
            dependencies: [
                "KMSClient", "KMSProto", "KMSRPC", "KMSKubernetesProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                // The flags both sidecars share (KMSConnectionOptions).
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // kms-agent: its AWS JSON endpoint (NIO HTTP/1.1) and its caches' keys (SHA-256).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // kube-apiserver's KMS v2 provider: gRPC on a Unix socket, wrapping DEK seeds under one of our keys.
        .executableTarget(
            name: "kms-k8s-plugin",
            dependencies: [
                "KMSKubernetes", "KMSKubernetesProto", "KMSClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The workload sidecar: the AWS KMS JSON API on the pod's loopback, through kmsd.
        .executableTarget(
            name: "kms-agent",
            dependencies: [
                "KMSKubernetes", "KMSClient", "KMSRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // kms-xks-proxy's logic: the XKS proxy API over HTTPS (SigV4, optional mutual TLS), the key
        // mapping, and kmsd as its backend through KMSClient. Holds no key material.
        .target(
            name: "KMSXKSProxy",
            dependencies: [
                "KMSXKS", "KMSClient", "KMSProto", "KMSRPC", "KMSSigV4", "KMSCrypto",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                // The mutual-TLS client's subject names (already built for grpc-swift-nio-transport).
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        // Keys held here as an AWS External Key Store: a thin main over KMSXKSProxy.
        .executableTarget(
            name: "kms-xks-proxy",
            dependencies: [
                "KMSXKSProxy", "KMSClient", "KMSRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "kms-cryptod",
            dependencies: [
                "KMSCryptoWorker", "KMSCrypto", "KMSRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "KMSRPCTests",
            dependencies: [
                "KMSRPC", "KMSDomain", "KMSTestSupport", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "KMSCryptoTests",
            dependencies: ["KMSCrypto", "KMSDomain", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "KMSSigV4Tests",
            dependencies: ["KMSSigV4", "KMSCrypto", "KMSDomain", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "KMSAuditChainTests", dependencies: ["KMSAuditChain", "KMSDomain"]),
        .testTarget(name: "KMSDomainTests", dependencies: ["KMSDomain"]),
        .testTarget(name: "KMSPolicyTests", dependencies: ["KMSPolicy", "KMSDomain"]),
        .testTarget(
            name: "KMSClientTests",
            dependencies: [
                "KMSClient", "KMSProto", "KMSRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "KMSEnvelopeTests",
            dependencies: [
                "KMSEnvelope", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            // Known-answer messages from the AWS Encryption SDK's public test vectors (Vectors/README.md).
            resources: [.copy("Vectors")]
        ),
        .testTarget(
            name: "KMSProtoTests",
            dependencies: ["KMSProto", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // Starts the real processes (kms-cryptod, kmsd) and test databases for the integration tests;
        // the in-process crypto backend (KMSServer's CryptoBackend over a KMSCryptoWorker) for unit tests.
        .target(
            name: "KMSTestSupport",
            dependencies: [
                "KMSRPC", "KMSStore", "KMSClient", "KMSProto", "KMSServer", "KMSCryptoWorker", "KMSCrypto", "KMSDomain",
                "KMSAuditChain", "KMSWorkerProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Tests/KMSTestSupport"
        ),
        .testTarget(
            name: "KMSServerTests",
            dependencies: [
                "KMSTestSupport", "KMSServer", "KMSClient", "KMSEnvelope", "KMSProto", "KMSRPC", "KMSDomain",
                "KMSStore", "KMSCrypto",
                "KMSSigV4", "KMSAuditChain", "KMSWorkerProto", "KMSCryptoWorker",
                // The XKS proxy API's wire types, for a fake proxy (CustomKeyStoreConnectionTests).
                "KMSXKS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                // The raw AES keys of EnvelopeInteropTests+RawAES.
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The XKS wire types against the spec's examples; the client against kms-xks-proxy over a real stack.
        .testTarget(
            name: "KMSXKSTests",
            dependencies: [
                "KMSXKS", "KMSXKSProxy", "KMSTestSupport", "KMSClient", "KMSProto", "KMSCrypto", "KMSDomain",
                "KMSSigV4",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Against SoftHSM2 tokens made per test (KMSTestSupport's SoftHSMToken).
        .testTarget(name: "KMSPKCS11Tests", dependencies: ["KMSPKCS11", "KMSTestSupport"]),
        .testTarget(
            name: "KMSCryptoWorkerTests",
            dependencies: [
                "KMSTestSupport", "KMSCryptoWorker", "KMSRPC", "KMSWorkerProto", "KMSCrypto", "KMSDomain", "KMSPKCS11",
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)

// Fuzzing (README "Fuzzing"): one entry point per parser, a plain function of the input bytes
// that checks properties with preconditions. The libFuzzer executables live in the separate
// package Fuzz/, built with sanitizers by scripts/fuzz so that this package's build is
// unchanged; KMSFuzzTargetsTests replays the committed corpus and every kept crash through the
// same entry points in every build.
package.products.append(.library(name: "KMSFuzzTargets", targets: ["KMSFuzzTargets"]))
package.targets += [
    .target(
        name: "KMSFuzzTargets",
        dependencies: [
            "KMSRPC", "KMSProto", "KMSWorkerProto", "KMSDomain", "KMSPolicy", "KMSCrypto", "KMSSigV4", "KMSAuditChain",
            "KMSEnvelope",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]
    ),
    .testTarget(name: "KMSFuzzTargetsTests", dependencies: ["KMSFuzzTargets", "KMSWorkerProto"]),
]

// Async functions and closures without an isolation of their own run on their caller's executor
// (SE-0461's nonisolated(nonsending)) rather than hopping to the generic executor at every call
// and return. A request's task is pinned to its connection's event loop, so each of those hops
// only looked that preference up again, under the task's status lock: about 37 a request in
// kmsd before, 18 after. Every target alike: one rule for the package, and a change of it
// recompiles every module (an incremental build otherwise kept the objects of modules importing a
// changed one, naming its closure types as they were: link errors).
for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
}
