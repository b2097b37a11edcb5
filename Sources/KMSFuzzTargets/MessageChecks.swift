import Foundation
import KMSProto
import SwiftProtobuf

/// The properties every generated message must have, whatever bytes or JSON it came from.
enum MessageChecks {
    /// Map entries in key order, so that equal messages serialize to equal bytes.
    static let deterministic: BinaryEncodingOptions = {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return options
    }()

    /// What decodes re-encodes, decodes to an equal message, and re-encodes to the same bytes;
    /// the AWS JSON encoder (every response the JSON endpoint sends) copes with it.
    static func binaryRoundTrip<M: SwiftProtobuf.Message>(_: M.Type, _ bytes: [UInt8]) -> Bool {
        guard let message = try? M(serializedBytes: bytes) else { return false }
        let encoded: [UInt8]
        do {
            encoded = try message.serializedBytes(options: deterministic)
        } catch {
            require(false, "\(M.protoMessageName) decoded but does not encode: \(error)")
            return true
        }
        guard let decoded = try? M(serializedBytes: encoded) else {
            require(false, "\(M.protoMessageName) does not decode from its own encoding")
            return true
        }
        require(decoded.isEqualTo(message: message), "\(M.protoMessageName) changed in a binary round trip")
        let again: [UInt8] = (try? decoded.serializedBytes(options: deterministic)) ?? []
        require(again == encoded, "\(M.protoMessageName) encodes differently after a round trip")
        // A response with any content must become a JSON body or a thrown error, never a crash,
        // and the direct encoder must write what the reference path (protobuf's JSON, a tree) writes.
        directEncodingMatchesReference(message)
        return true
    }

    /// A JSON body either decodes or is refused with AWSJSON.DecodingError (which the endpoint
    /// answers as SerializationException); what decodes survives AWS JSON encoding and decoding.
    static func awsJSONRoundTrip<M: SwiftProtobuf.Message>(_: M.Type, _ body: Data) {
        let direct = AWSJSON.decodeDirectly(M.self, from: body)
        let message: M
        do {
            message = try AWSJSON.decode(M.self, from: body)
        } catch is AWSJSON.DecodingError {
            require(
                direct == nil,
                "\(M.protoMessageName): the direct decoding took a body the long way refuses: "
                    + "\(String(decoding: body, as: UTF8.self).prefix(512))")
            return
        } catch {
            require(
                false,
                "decoding \(M.protoMessageName) from AWS JSON threw \(type(of: error)), not AWSJSON.DecodingError: "
                    + "\(error)"
            )
            return
        }
        directEncodingMatchesReference(message)
        if let direct {
            require(
                direct.isEqualTo(message: message),
                "\(M.protoMessageName): the direct decoding differs from the long way for "
                    + "\(String(decoding: body, as: UTF8.self).prefix(512))")
        }
        let encoded: Data
        do {
            encoded = try AWSJSON.data(message)
        } catch {
            require(false, "\(M.protoMessageName) decoded from AWS JSON does not encode back: \(error)")
            return
        }
        do {
            let again = try AWSJSON.decode(M.self, from: encoded)
            require(
                again.isEqualTo(message: message),
                "\(M.protoMessageName) changed in an AWS JSON round trip: "
                    + "\(String(decoding: encoded, as: UTF8.self).prefix(512))"
            )
        } catch {
            require(false, "\(M.protoMessageName) does not decode from its own AWS JSON: \(error)")
        }
    }

    /// `AWSJSON.data` (written straight from the fields) gives the bytes of `AWSJSON.referenceData`.
    static func directEncodingMatchesReference(_ message: some SwiftProtobuf.Message) {
        let direct = try? AWSJSON.data(message)
        guard let reference = try? AWSJSON.referenceData(message) else { return }
        require(
            direct == reference,
            "\(type(of: message).protoMessageName): the direct AWS JSON encoder wrote "
                + "\(direct.map { String(decoding: $0, as: UTF8.self).prefix(512) } ?? "an error"), the reference "
                + "\(String(decoding: reference, as: UTF8.self).prefix(512))"
        )
    }
}
