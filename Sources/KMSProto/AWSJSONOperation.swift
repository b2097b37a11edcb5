import Foundation
import KMSRPC
import SwiftProtobuf

/// One operation's translation between the AWS JSON 1.1 protocol and the binary protocol, so
/// that the HTTP endpoint serves every operation through the very handlers of the binary one.
public struct AWSJSONOperation: Sendable {
    /// The AWS operation name, as `X-Amz-Target: TrentService.<name>` names it.
    public let name: String
    /// A JSON request body → the serialized protobuf request (AWSJSON.DecodingError when the
    /// body is not the operation's shape).
    public let requestFromJSON: @Sendable (Data) throws -> [UInt8]
    /// A serialized protobuf response → the JSON response body.
    public let responseToJSON: @Sendable ([UInt8]) throws -> Data

    /// A JSON request body → the request message, for a server that dispatches messages
    /// (`RPCHandlerTable.messageHandler(for:)`) and so never serializes them between.
    public let requestMessageFromJSON: @Sendable (Data) throws -> any SwiftProtobuf.Message
    /// A response message → the JSON response body.
    public let responseMessageToJSON: @Sendable (any SwiftProtobuf.Message) throws -> Data

    /// The translation of `method`'s request and response.
    public init<Request, Response>(_ method: RPCMethod<Request, Response>) {
        self.name = method.name
        // An empty body is an empty request, as botocore sends for ListKeys without members.
        let decode: @Sendable (Data) throws -> Request = { body in
            if body.isEmpty { return Request() }
            return try AWSJSON.decodeDirectly(Request.self, from: body) ?? AWSJSON.decode(Request.self, from: body)
        }
        self.requestFromJSON = { body in try decode(body).serializedBytes() }
        self.responseToJSON = { bytes in
            Data(try AWSJSON.bytes(try Response(serializedBytes: bytes)))
        }
        self.requestMessageFromJSON = decode
        self.responseMessageToJSON = { message in
            guard let response = message as? Response else {
                throw AWSJSON.DecodingError(description: "the answer is not a \(Response.protoMessageName)")
            }
            return Data(try AWSJSON.bytes(response))
        }
    }
}
