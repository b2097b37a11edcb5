import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A client of an XKS proxy (API version 1): HTTP/1.1 over TLS, keep-alive connections reused
/// one request at a time (the API has no pipelining; XKSConnectionPool bounds them), every
/// request signed with SigV4 for
/// `kms-xks-proxy`, every answer checked against the API's sizes before it is returned.
///
/// Errors are `XKSClientError`s, split as AWS KMS splits them when it calls a proxy: the
/// proxy's own XKS error, no connection, a failed TLS handshake, no answer in time, an answer
/// the API does not allow.
public final class XKSClient: Sendable {
    private let configuration: XKSClientConfiguration
    private let address: SocketAddress
    private let host: String
    private let serverHostname: String?
    private let tls: NIOSSLContext
    private let signer: XKSSigner
    private let group: any EventLoopGroup
    private let pool: XKSConnectionPool

    /// A client for the proxy `configuration` names; throws `.invalidRequest` for a configuration
    /// that cannot work (not https, an invalid URI path, unreadable certificates).
    public init(
        configuration: XKSClientConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(XKSClientError) {
        guard let url = URL(string: configuration.endpoint), url.scheme == "https", let name = url.host,
            url.path.isEmpty || url.path == "/", url.query == nil
        else {
            throw .invalidRequest("the endpoint must be https://host[:port], not '\(configuration.endpoint)'")
        }
        guard XKSLimits.isValidURIPath(configuration.uriPath) else {
            throw .invalidRequest("the URI path must be [/prefix]/kms/xks/v1 in letters, digits, '/', '-', '_'")
        }
        let port = url.port ?? 443
        do {
            self.address = try SocketAddress.makeAddressResolvingHost(name, port: port)
        } catch {
            throw .unreachable("cannot resolve '\(name)': \(error)")
        }
        self.host = url.port == nil ? name : "\(name):\(port)"
        // SNI carries names only; an IP address is checked against the certificate's IP SANs.
        self.serverHostname = (try? SocketAddress(ipAddress: name, port: 0)) == nil ? name : nil
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let roots = configuration.trustRoots { tls.trustRoots = roots }
        if let identity = configuration.identity {
            tls.certificateChain = identity.certificateChain
            tls.privateKey = identity.privateKey
        }
        tls.applicationProtocols = ["http/1.1"]
        do {
            self.tls = try NIOSSLContext(configuration: tls)
        } catch {
            throw .invalidRequest("the TLS configuration is not usable: \(error)")
        }
        self.configuration = configuration
        self.signer = XKSSigner(credentials: configuration.credentials, region: configuration.region)
        self.group = group
        self.pool = XKSConnectionPool(
            maxOpen: configuration.maxConnections, maxIdle: configuration.maxIdleConnections)
    }

    deinit {
        for channel in self.pool.drainIdle() { channel.close(promise: nil) }
    }

    /// Closes the idle connections; requests in flight finish on theirs.
    public func shutdown() async {
        for channel in self.pool.drainIdle() { try? await channel.close() }
    }

    // MARK: - The operations

    /// GetKeyMetadata of the external key `keyID`.
    public func getKeyMetadata(keyID: String, requestMetadata: XKSRequestMetadata) async throws(XKSClientError)
        -> XKSGetKeyMetadataResponse
    {
        let response: XKSGetKeyMetadataResponse = try await self.call(
            .getKeyMetadata, keyID: keyID, XKSGetKeyMetadataRequest(requestMetadata: requestMetadata))
        try response.validate()
        return response
    }

    /// Encrypt under the external key `keyID`; the answer is checked (sizes, CDIV when asked for).
    public func encrypt(keyID: String, _ request: XKSEncryptRequest) async throws(XKSClientError)
        -> XKSEncryptResponse
    {
        do { try request.validate() } catch { throw .invalidRequest(error.description) }
        let response: XKSEncryptResponse = try await self.call(.encrypt, keyID: keyID, request)
        try response.validate(for: request)
        return response
    }

    /// Decrypt under the external key `keyID`.
    public func decrypt(keyID: String, _ request: XKSDecryptRequest) async throws(XKSClientError)
        -> XKSDecryptResponse
    {
        do { try request.validate() } catch { throw .invalidRequest(error.description) }
        let response: XKSDecryptResponse = try await self.call(.decrypt, keyID: keyID, request)
        guard response.plaintext.count == request.ciphertext.count else {
            throw .invalidResponse("the plaintext is not as long as the ciphertext")
        }
        return response
    }

    /// GetHealthStatus of the proxy and its key managers.
    public func getHealthStatus(requestMetadata: XKSRequestMetadata) async throws(XKSClientError)
        -> XKSGetHealthStatusResponse
    {
        let response: XKSGetHealthStatusResponse = try await self.call(
            .getHealthStatus, keyID: "", XKSGetHealthStatusRequest(requestMetadata: requestMetadata))
        try response.validate()
        return response
    }

    // MARK: - One request

    /// Posts `body` to the operation's path and decodes a 200's body, or the error body of any other status.
    func call<Request: Encodable, Response: Decodable>(
        _ operation: XKSOperation, keyID: String, _ request: Request
    ) async throws(XKSClientError) -> Response {
        if operation != .getHealthStatus, !XKSLimits.isValidKeyID(keyID) {
            throw .invalidRequest("an external key id is 1 to 128 letters, digits, '-', '.' or '_'")
        }
        let body: [UInt8]
        do { body = Array(try JSONEncoder().encode(request)) } catch {
            throw .invalidRequest("cannot encode the request: \(error)")
        }
        let path = operation.path(uriPath: self.configuration.uriPath, keyID: keyID)
        let (status, payload) = try await self.send(path: path, body: body)
        guard status == .ok else { throw Self.errorAnswer(status: status, body: payload) }
        do {
            return try JSONDecoder().decode(Response.self, from: Data(payload.readableBytesView))
        } catch {
            throw .invalidResponse("the \(operation.rawValue) answer does not decode: \(Self.describe(error))")
        }
    }

    private func send(path: String, body: [UInt8]) async throws(XKSClientError) -> (HTTPResponseStatus, ByteBuffer) {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: self.host)
        head.headers.add(name: "Content-Type", value: XKSSigner.contentType)
        head.headers.add(name: "Content-Length", value: String(body.count))
        for (name, value) in self.signer.headers(host: self.host, path: path, body: body) {
            head.headers.add(name: name, value: value)
        }
        // A pooled connection the proxy has just closed (a restart, its idle timeout) fails
        // before any answer; the request is then sent once more on a new connection, once: the
        // four operations may be repeated safely (Encrypt and Decrypt have no effect but their
        // answer). A timeout or any answer is not repeated.
        let timeout = Duration.nanoseconds(self.configuration.requestTimeout.nanoseconds)
        guard case .idle(let channel) = try await self.pool.lease(timeout: timeout) else {
            return try await self.exchangeOnNewConnection(head: head, body: body)
        }
        do {
            return try await self.exchange(on: channel, head: head, body: body, reused: true)
        } catch {
            guard case .unreachable = error else { throw error }
        }
        // Past the bound by one at most, briefly: the closed connection's slot is being freed.
        self.pool.leaseBeyondBound()
        return try await self.exchangeOnNewConnection(head: head, body: body)
    }

    /// Opens a connection in a leased slot and sends the request on it.
    private func exchangeOnNewConnection(head: HTTPRequestHead, body: [UInt8])
        async throws(XKSClientError) -> (HTTPResponseStatus, ByteBuffer)
    {
        let channel: any Channel
        do {
            channel = try await self.connect()
        } catch {
            self.pool.openFailed()
            throw error
        }
        self.pool.opened(channel)
        return try await self.exchange(on: channel, head: head, body: body, reused: false)
    }

    /// `reused`: a pooled connection, whose close by the proxy without TLS's close_notify is a
    /// closed connection (`.unreachable`, sent again), where on a new one it is a TLS failure.
    private func exchange(on channel: any Channel, head: HTTPRequestHead, body: [UInt8], reused: Bool)
        async throws(XKSClientError) -> (HTTPResponseStatus, ByteBuffer)
    {
        let promise = channel.eventLoop.makePromise(of: XKSResponseCollector.Answer.self)
        // A write that fails never reaches the collector when the channel has closed already (a
        // proxy that drops the connection right after it opens removes the handlers): its
        // failure must end the wait, or the request waits forever. A promise completes once, so
        // the collector's own failure of a write it saw changes nothing.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { promise.fail($0) }
        channel.writeAndFlush(
            XKSResponseCollector.Request(head: head, body: body, promise: promise), promise: written)
        let answer: XKSResponseCollector.Answer
        do {
            answer = try await promise.futureResult.get()
        } catch {
            channel.close(promise: nil)
            if reused, let error = error as? NIOSSLError, case .uncleanShutdown = error {
                throw .unreachable("the proxy closed the connection")
            }
            throw Self.transportError(error)
        }
        self.pool.release(channel, reusable: answer.keepAlive)
        return (answer.status, answer.body)
    }

    private func connect() async throws(XKSClientError) -> any Channel {
        let tls = self.tls
        let serverHostname = self.serverHostname
        let timeout = self.configuration.requestTimeout
        do {
            return try await ClientBootstrap(group: self.group)
                .connectTimeout(self.configuration.connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                        try channel.pipeline.syncOperations.addHTTPClientHandlers(
                            leftOverBytesStrategy: .fireError)
                        try channel.pipeline.syncOperations.addHandler(XKSResponseCollector(timeout: timeout))
                    }
                }
                .connect(to: self.address).get()
        } catch {
            throw Self.transportError(error)
        }
    }

    // MARK: - Errors

    static func errorAnswer(status: HTTPResponseStatus, body: ByteBuffer) -> XKSClientError {
        guard let error = try? JSONDecoder().decode(XKSErrorBody.self, from: Data(body.readableBytesView)) else {
            return .invalidResponse("HTTP \(status.code) without an XKS error body")
        }
        return .proxy(
            XKSError(rawName: error.errorName, message: error.errorMessage ?? "", httpStatus: Int(status.code)))
    }

    static func transportError(_ error: any Error) -> XKSClientError {
        if let error = error as? XKSClientError { return error }
        if error is NIOSSLError || error is BoringSSLError { return .tlsFailure("\(error)") }
        if let error = error as? ChannelError, case .connectTimeout = error { return .timedOut }
        if error is HTTPParserError { return .invalidResponse("not HTTP/1.1: \(error)") }
        return .unreachable("\(error)")
    }

    /// A decoding error's path and kind, without the values (which may be key material).
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "not JSON" }
        switch error {
        case .keyNotFound(let key, _): return "'\(key.stringValue)' is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "not a JSON object" : "'\(path)' is not valid"
        @unknown default: return "not valid"
        }
    }
}
