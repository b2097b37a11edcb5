import Crypto
import Foundation
import KMSCrypto
import KMSSigV4
import KMSXKS
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An XKS proxy that answers GetHealthStatus, and GetKeyMetadata, Encrypt and Decrypt (AES-GCM
/// under a key derived from the XKS key id) of the external keys in `keys`, as a test tells it
/// to: healthy, with every key manager unavailable, with an answer that is not JSON, or not at
/// all. Every request's SigV4
/// signature is checked against the one credential it knows (AuthenticationFailedException
/// otherwise), so a test also learns which secret kmsd signed with. Connections are kept alive
/// (counted in `connections`) until `restart` closes them all, as a restarted proxy would.
final class FakeXKSProxy: Sendable {
    enum Behaviour: Sendable {
        case healthy, unavailable, garbage, silent, unauthorized
        /// Healthy, but a connection's second request closes it unanswered (as a proxy whose
        /// idle timeout struck as the request arrived).
        case closesReusedConnections
    }

    /// The one credential it accepts (a test may rotate it).
    let credentials: Mutex<XKSCredentials>
    let region: String
    let behaviour = Mutex(Behaviour.healthy)
    let requests = Mutex(0)
    /// The length of the IVs Encrypt makes: 12, or 16 as the spec also allows (some HSMs do).
    let ivLength = Mutex(12)
    /// The external keys GetKeyMetadata knows, by XKS key id; others are KeyNotFoundException.
    let keys = Mutex(["external-1": XKSGetKeyMetadataResponse(keyStatus: "ENABLED")])
    /// Connections accepted so far.
    let connections = Mutex(0)
    private let bound = Mutex(0)
    private let tls: NIOSSLContext
    private let listener = Mutex<(any Channel)?>(nil)
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    var port: Int { self.bound.withLock { $0 } }
    var endpoint: String { "https://127.0.0.1:\(self.port)" }

    private init(credentials: XKSCredentials, region: String, tls: NIOSSLContext) {
        self.credentials = Mutex(credentials)
        self.region = region
        self.tls = tls
    }

    /// A proxy on 127.0.0.1 serving TLS with `certificate` and `key` (PEM files).
    static func start(certificate: String, key: String, credentials: XKSCredentials, region: String = "us-east-1")
        async throws -> FakeXKSProxy
    {
        let tls = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))))
        let proxy = FakeXKSProxy(credentials: credentials, region: region, tls: tls)
        try await proxy.listen(port: 0)
        return proxy
    }

    private func listen(port: Int) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    self.connections.withLock { $0 += 1 }
                    let id = ObjectIdentifier(channel)
                    self.open.withLock { $0[id] = channel }
                    channel.closeFuture.whenComplete { _ in _ = self.open.withLock { $0.removeValue(forKey: id) } }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: self.tls))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(proxy: self))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        self.bound.withLock { $0 = channel.localAddress!.port! }
        self.listener.withLock { $0 = channel }
    }

    /// Stops listening and closes every connection, as a stopped proxy's host would.
    func stop() async {
        try? await self.listener.withLock({ $0.take() })?.close()
        for channel in self.open.withLock({ Array($0.values) }) { try? await channel.close() }
    }

    /// Stops, then listens again on the same port (kmsd's pooled connections are gone).
    /// With other suites' connections coming and going on this machine, the port may be some
    /// client's for a moment (an outgoing connection's local port, which no SO_REUSEADDR shares):
    /// the bind is tried again for a while before the restart counts as failed.
    func restart() async throws {
        await self.stop()
        var attempts = 0
        while true {
            do {
                return try await self.listen(port: self.port)
            } catch let error as IOError where error.errnoCode == EADDRINUSE && attempts < 100 {
                attempts += 1
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// The status and body to answer `head` and `body` with; nil: no answer at all.
    func answer(_ head: HTTPRequestHead, _ body: [UInt8]) -> (HTTPResponseStatus, [UInt8])? {
        self.requests.withLock { $0 += 1 }
        func error(_ status: HTTPResponseStatus, _ name: String) -> (HTTPResponseStatus, [UInt8]) {
            (status, Array(try! JSONEncoder().encode(XKSErrorBody(errorName: name, errorMessage: "fake"))))
        }
        // The signature kmsd's credential makes for this request, at its own X-Amz-Date.
        guard let amzDate = head.headers.first(name: "X-Amz-Date"), let date = SigV4.parseAmzDate(amzDate),
            let host = head.headers.first(name: "Host"), let authorization = head.headers.first(name: "Authorization")
        else { return error(.unauthorized, "AuthenticationFailedException") }
        let expected = XKSSigner(credentials: self.credentials.withLock { $0 }, region: self.region)
            .headers(host: host, path: head.uri, body: body, now: date)
            .first { $0.name == "Authorization" }?.value
        guard expected == authorization, self.behaviour.withLock({ $0 }) != .unauthorized else {
            return error(.unauthorized, "AuthenticationFailedException")
        }
        if head.uri.hasSuffix("/metadata"), head.uri.contains("/kms/xks/v1/keys/") {
            switch self.behaviour.withLock({ $0 }) {
            case .silent: return nil
            case .garbage: return (.ok, Array("this is not the XKS API".utf8))
            default: break
            }
            let parts = head.uri.split(separator: "/")
            let keyID = parts.count >= 2 ? String(parts[parts.count - 2]) : ""
            guard let metadata = self.keys.withLock({ $0[keyID] }) else {
                return error(.notFound, "KeyNotFoundException")
            }
            return (.ok, Array(try! JSONEncoder().encode(metadata)))
        }
        for suffix in ["/encrypt", "/decrypt"]
        where head.uri.hasSuffix(suffix) && head.uri.contains("/kms/xks/v1/keys/") {
            switch self.behaviour.withLock({ $0 }) {
            case .silent: return nil
            case .garbage: return (.ok, Array("this is not the XKS API".utf8))
            default: break
            }
            let parts = head.uri.split(separator: "/")
            let keyID = parts.count >= 2 ? String(parts[parts.count - 2]) : ""
            guard self.keys.withLock({ $0[keyID] }) != nil else { return error(.notFound, "KeyNotFoundException") }
            let key = SymmetricKey(data: SHA256.hash(data: Array(keyID.utf8)))
            if suffix == "/encrypt" {
                let iv = (0..<self.ivLength.withLock { $0 }).map { _ in UInt8.random(in: 0...255) }
                guard let request = try? JSONDecoder().decode(XKSEncryptRequest.self, from: Data(body)),
                    let box = try? AES.GCM.seal(
                        request.plaintext, using: key, nonce: AES.GCM.Nonce(data: iv),
                        authenticating: request.additionalAuthenticatedData ?? Data())
                else { return error(.badRequest, "ValidationException") }
                let answer = XKSEncryptResponse(
                    ciphertext: box.ciphertext, ciphertextMetadata: Data([7]),
                    initializationVector: Data(box.nonce), authenticationTag: box.tag)
                return (.ok, Array(try! JSONEncoder().encode(answer)))
            }
            guard let request = try? JSONDecoder().decode(XKSDecryptRequest.self, from: Data(body)) else {
                return error(.badRequest, "ValidationException")
            }
            guard request.ciphertextMetadata == Data([7]),
                let box = try? AES.GCM.SealedBox(
                    nonce: AES.GCM.Nonce(data: request.initializationVector), ciphertext: request.ciphertext,
                    tag: request.authenticationTag),
                let plaintext = try? AES.GCM.open(
                    box, using: key, authenticating: request.additionalAuthenticatedData ?? Data())
            else { return error(.badRequest, "InvalidCiphertextException") }
            return (.ok, Array(try! JSONEncoder().encode(XKSDecryptResponse(plaintext: plaintext))))
        }
        guard head.uri.hasSuffix("/kms/xks/v1/health") else { return error(.notFound, "InvalidUriPathException") }
        let status: String
        switch self.behaviour.withLock({ $0 }) {
        case .silent: return nil
        case .garbage: return (.ok, Array("this is not the XKS API".utf8))
        case .healthy, .unauthorized, .closesReusedConnections: status = "ACTIVE"
        case .unavailable: status = "UNAVAILABLE"
        }
        let health = XKSGetHealthStatusResponse(
            xksProxyFleetSize: 1, xksProxyVendor: "test", xksProxyModel: "fake", ekmVendor: "test",
            ekmFleetDetails: [.init(id: "ekm-1", model: "fake", healthStatus: status)])
        return (.ok, Array(try! JSONEncoder().encode(health)))
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let proxy: FakeXKSProxy
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        var served = 0

        init(proxy: FakeXKSProxy) { self.proxy = proxy }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                self.body = []
            case .body(let buffer):
                self.body += buffer.readableBytesView
            case .end:
                if self.served > 0, self.proxy.behaviour.withLock({ $0 }) == .closesReusedConnections {
                    context.close(promise: nil)
                    return
                }
                self.served += 1
                guard let head = self.head, let (status, body) = self.proxy.answer(head, self.body) else { return }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: String(body.count))
                context.write(
                    self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                    promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
