import SwiftProtobuf

/// One rpc of a service: its name on the wire and its request and response message types.
/// The constants are generated from `proto/` (see `scripts/generate-proto`).
public struct RPCMethod<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>: Sendable
{
    public let name: String

    public init(_ name: String) {
        self.name = name
    }
}
