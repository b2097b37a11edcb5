import SwiftProtobuf

/// A worker protocol enum that stands for a KMSDomain type (WorkerEnums+Domain.swift). kmsd
/// fills requests with `init(_:)`; kms-cryptod reads them with `domain`, refusing nil.
public protocol WorkerDomainEnum: SwiftProtobuf.Enum {
    /// The KMSDomain type.
    associatedtype Domain
    /// The value that stands for `domain`.
    init(_ domain: Domain)
    /// The domain value; nil for UNSPECIFIED and for a value this build does not know.
    var domain: Domain? { get }
}
