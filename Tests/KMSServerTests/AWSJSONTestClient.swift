import Foundation
import KMSClient
import KMSCrypto
import KMSDomain
import KMSSigV4
import NIOCore
import NIOPosix

/// What kmsd's AWS JSON endpoint answered.
struct AWSJSONReply: Sendable {
    var status: Int
    var body: Data
    /// x-amzn-RequestId: the request's id in the audit log.
    var requestID: String?
    /// The answer said `Connection: close`.
    var closesConnection = false

    /// The error's `__type` without a `namespace#` prefix (as botocore reads it); nil on success.
    var code: String? {
        guard self.status != 200 else { return nil }
        guard let type = self.object?["__type"] as? String else { return "HTTP \(self.status)" }
        return type.split(separator: "#").last.map(String.init) ?? type
    }

    var message: String {
        (self.object?["message"] as? String) ?? (self.object?["Message"] as? String) ?? ""
    }

    var object: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: self.body)) as? [String: Any]
    }
}

/// A small AWS JSON 1.1 client for tests: every request signed with SigV4 by the project's own
/// signing functions (the ones kmsd verifies with), every header it sends signed, sent as raw
/// HTTP/1.1 over a fresh loopback connection so that a refused request cannot disturb the next.
/// Raw HTTP from Swift instead of boto3 keeps thousands of matrix cells inside one process and
/// a failure's code next to the request that caused it.
struct AWSJSONTestClient: Sendable {
    let host: String
    let port: Int
    /// nil: send the request without an Authorization header.
    let credentials: KMSCredentials?
    /// The region the credential scope names; kmsd acts for the caller in it.
    let region: String

    /// `endpoint` is host:port (KMSDProcess.awsJSONEndpoint).
    init(endpoint: String, credentials: KMSCredentials?, region: String = "us-east-1") {
        let colon = endpoint.lastIndex(of: ":")!
        self.host = String(endpoint[..<colon])
        self.port = Int(endpoint[endpoint.index(after: colon)...])!
        self.credentials = credentials
        self.region = region
    }

    func with(region: String) -> AWSJSONTestClient {
        AWSJSONTestClient(endpoint: "\(self.host):\(self.port)", credentials: self.credentials, region: region)
    }

    /// POSTs `body` as `TrentService.<operation>`; with `keepAlive`, without `Connection: close`
    /// (the connection is still closed once the answer arrived).
    func call(
        _ operation: String, body: Data, keepAlive: Bool = false, headers extra: [(name: String, value: String)] = []
    ) async throws -> AWSJSONReply {
        let amzDate = SigV4.formatAmzDate(Date())
        var headers: [(name: String, value: String)] =
            [
                ("Host", "\(self.host):\(self.port)"),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Date", amzDate),
                ("X-Amz-Target", "TrentService.\(operation)"),
            ] + extra
        if let credentials = self.credentials {
            headers.append(
                ("Authorization", self.authorization(credentials, headers: headers, body: body, amzDate: amzDate)))
        }
        var head = "POST / HTTP/1.1\r\n"
        for header in headers { head += "\(header.name): \(header.value)\r\n" }
        head += "Content-Length: \(body.count)\r\n" + (keepAlive ? "" : "Connection: close\r\n") + "\r\n"
        var request = ByteBuffer(string: head)
        request.writeBytes(body)

        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: self.host, port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(request)
            var received = ByteBuffer()
            for try await var chunk in inbound {
                received.writeBuffer(&chunk)
                if let reply = Self.parse(received) { return reply }
            }
            guard let reply = Self.parse(received, atEnd: true) else {
                throw AWSJSONTestClientError(
                    "the connection closed before a whole response arrived (\(received.readableBytes) bytes)")
            }
            return reply
        }
    }

    /// `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` over every header sent.
    private func authorization(
        _ credentials: KMSCredentials, headers: [(name: String, value: String)], body: Data, amzDate: String
    ) -> String {
        let signed = headers.map { $0.name.lowercased() }.sorted()
        let canonical = SigV4.canonicalRequest(
            method: "POST", path: "/", query: "", headers: headers, signedHeaders: signed,
            payloadSHA256Hex: SigV4.sha256Hex(body)
        )
        let date = String(amzDate.prefix(8))
        let scope = "\(date)/\(self.region)/kms/\(SigV4.terminator)"
        let key = SigV4.signingKey(
            secret: Array(credentials.secretAccessKey.utf8), date: date, region: self.region, service: "kms")
        let signature = SigV4.signature(
            signingKey: key,
            stringToSign: SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical))
        return
            "\(SigV4.algorithm) Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signed.joined(separator: ";")), Signature=\(Hex.encode(signature))"
    }

    /// A complete response in `buffer` (its Content-Length satisfied, or the connection ended).
    static func parse(_ buffer: ByteBuffer, atEnd: Bool = false) -> AWSJSONReply? {
        let bytes = Array(buffer.readableBytesView)
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let headEnd = bytes.indices.dropLast(3).first(where: { bytes[$0..<($0 + 4)].elementsEqual(separator) })
        else { return nil }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first,
            let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else {
            return nil
        }
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first
        let requestID = lines.dropFirst().compactMap { line -> String? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "x-amzn-requestid" else { return nil }
            return parts[1].trimmingCharacters(in: .whitespaces)
        }.first
        let closes = lines.dropFirst().contains { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "connection"
                && parts[1].trimmingCharacters(in: .whitespaces).lowercased() == "close"
        }
        let body = bytes[(headEnd + 4)...]
        if let length {
            guard body.count >= length else { return nil }
            return AWSJSONReply(
                status: status, body: Data(body.prefix(length)), requestID: requestID, closesConnection: closes)
        }
        return atEnd
            ? AWSJSONReply(status: status, body: Data(body), requestID: requestID, closesConnection: closes) : nil
    }
}

struct AWSJSONTestClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
