import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSSigV4
import KMSTestSupport
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTPS request per connection with whatever method, path, headers and body a test
/// chooses, as AWS's curl-based conformance client sends them: the XKS client refuses to send
/// most of what the conformance cases need (bad sizes, bad JSON, other services or regions).
struct XKSRawHTTPS {
    /// The status and the body, and the body's errorName when it has one.
    struct Answer {
        let status: Int
        let body: [UInt8]
        var errorName: String? {
            (try? JSONSerialization.jsonObject(with: Data(self.body)) as? [String: Any])?["errorName"] as? String
        }
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(self.body)) as? [String: Any] }
    }

    let port: Int
    let caPath: String
    /// A client certificate and key (PEM files) to present.
    var identity: (certificate: String, key: String)?

    var host: String { "127.0.0.1:\(self.port)" }

    /// SigV4 headers (Host, X-Amz-Date, Authorization, signing host and x-amz-date only, as AWS
    /// KMS does) for a POST of `body` to `path`.
    func signed(
        path: String, body: [UInt8], accessKeyID: String, secret: String, region: String = "us-east-1",
        service: String = "kms-xks-proxy", date: Date = Date()
    ) -> [(String, String)] {
        let amzDate = SigV4.formatAmzDate(date)
        let day = String(amzDate.prefix(8))
        let canonical = SigV4.canonicalRequest(
            method: "POST", path: path, query: "", headers: [("host", self.host), ("x-amz-date", amzDate)],
            signedHeaders: ["host", "x-amz-date"], payloadSHA256Hex: SigV4.sha256Hex(body))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let key = SigV4.signingKey(secret: Array(secret.utf8), date: day, region: region, service: service)
        let signature = SigV4.signature(
            signingKey: key,
            stringToSign: SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical))
        return [
            ("Host", self.host), ("X-Amz-Date", amzDate), ("Content-Type", "application/json"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=host;x-amz-date, "
                    + "Signature=\(Hex.encode(signature))"
            ),
        ]
    }

    /// Sends the request; throws when no HTTP answer comes (a refused TLS handshake among others).
    func send(method: HTTPMethod = .POST, path: String, headers: [(String, String)], body: [UInt8]) async throws
        -> Answer
    {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(self.caPath)
        tls.certificateVerification = .noHostnameVerification
        if let identity = self.identity {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(identity.certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: identity.key, format: .pem))
        }
        let context = try NIOSSLContext(configuration: tls)
        let promise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Answer.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: context, serverHostname: nil))
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(Collector(promise: promise))
                    }
                }
                .connect(host: "127.0.0.1", port: self.port).get()
        } catch {
            promise.fail(error)
            throw error
        }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer { channel.close(promise: nil) }
        return try await promise.futureResult.get()
    }

    /// A signed POST of `json` to `<uriPath>/<suffix>` with the given credentials and scope.
    func post(
        _ suffix: String, _ json: String, uriPath: String = XKSProxyFixture.uriPath,
        accessKeyID: String = XKSProxyFixture.accessKeyID, secret: String = XKSProxyFixture.secret,
        region: String = "us-east-1", service: String = "kms-xks-proxy"
    ) async throws -> Answer {
        let path = "\(uriPath)/\(suffix)"
        let body = Array(json.utf8)
        return try await self.send(
            path: path,
            headers: self.signed(
                path: path, body: body, accessKeyID: accessKeyID, secret: secret, region: region, service: service),
            body: body)
    }

    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<Answer>
        var status = 0
        var body: [UInt8] = []
        var done = false

        init(promise: EventLoopPromise<Answer>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head): self.status = Int(head.status.code)
            case .body(let buffer): self.body += buffer.readableBytesView
            case .end: self.finish(.success(Answer(status: self.status, body: self.body)))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.finish(.failure(error))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.finish(.failure(WorkerTestError("the connection closed without an answer")))
        }

        private func finish(_ result: Result<Answer, any Error>) {
            guard !self.done else { return }
            self.done = true
            self.promise.completeWith(result)
        }
    }
}
