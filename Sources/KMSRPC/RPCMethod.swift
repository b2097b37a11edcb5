import SwiftProtobuf

/// One rpc of a service: its name on the wire and its request and response message types.
/// The constants are generated from `proto/` (see `scripts/generate-proto`).
public struct RPCMethod<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>: Sendable
{
    /// The rpc's name on the wire: the proto method name (e.g. "Encrypt").
    public let name: String

    /// A method by its wire name; the types are not checked against the service definition.
    public init(_ name: String) {
        self.name = name
    }
}
