import Foundation
import KMSCrypto
import KMSDomain
import KMSProto
import KMSRPC
import KMSSigV4
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwiftProtobuf
import Synchronization

/// kmsd's AWS JSON 1.1 endpoint (`POST /`, `X-Amz-Target: TrentService.<Operation>`), so that
/// the aws CLI, boto3 and the AWS Encryption SDK work unchanged. Each request is verified
/// (SigV4), translated to the binary protocol's request message and served by the binary
/// protocol's own handler: no operation exists twice.
public final class AWSJSONEndpoint: Sendable {
    /// What the endpoint accepts of a client before it answers or closes the connection.
    public typealias Limits = AWSJSONLimits

    let table: RPCHandlerTable
    let authenticator: SigV4Authenticator
    let limits: Limits
    let logger: Logger
    /// Its open connections, for a graceful shutdown: quiesced, each answers the request under
    /// way with `Connection: close` and closes (NIO's HTTP server pipeline does it).
    public let connections = OpenConnections()
    private let requestIDs = Atomic<UInt64>(0)
    private let connectionIDs = Atomic<UInt64>(1 << 62)

    /// An endpoint serving `table`'s operations to requests `authenticator` has verified.
    public init(table: RPCHandlerTable, authenticator: SigV4Authenticator, limits: Limits = .init(), logger: Logger) {
        self.table = table
        self.authenticator = authenticator
        self.limits = limits
        self.logger = logger
    }

    /// Binds and serves until the returned channel is closed.
    public func bind(
        to address: SocketAddress, tls: NIOSSLContext?,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                self.connections.track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    if let tls { try operations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try AWSJSONHTTPHandler.addHTTPServerHandlers(to: operations, overTLS: tls != nil)
                    try operations.addHandler(IdleStateHandler(readTimeout: self.limits.idleTimeout))
                    // Described once per connection: its address formatted per request showed in profiles.
                    let connection = RPCConnectionInfo(
                        id: self.connectionIDs.wrappingAdd(1, ordering: .relaxed).newValue,
                        remoteAddress: channel.remoteAddress, secureTransport: tls != nil)
                    try operations.addHandler(
                        AWSJSONHTTPHandler(limits: self.limits, newRequestID: { RequestID.next() }) { request in
                            await self.respond(to: request, on: connection)
                        })
                }
            }
            .bind(to: address).get()
    }

    /// One complete request in, its response out. Never throws: every failure is an AWS error body.
    func respond(to request: SigV4Authenticator.Request, on connection: RPCConnectionInfo) async -> AWSJSONAnswer {
        let requestID = RequestID.next()
        let target = request.header("x-amz-target") ?? ""
        guard request.method == "POST", SigV4Authenticator.split(request.uri).path == "/" else {
            return .error(
                requestID: requestID, status: .notFound, code: "UnknownOperationException",
                message: "POST / with an X-Amz-Target header is the only request served here")
        }
        guard target.hasPrefix("TrentService."),
            let operation = KMSMethod.awsJSON[String(target.dropFirst("TrentService.".count))],
            let handler = self.table.messageHandler(for: operation.name)
        else {
            return .error(
                requestID: requestID, status: .badRequest, code: "UnknownOperationException",
                message: "Unknown operation \(target.prefix(128))")
        }
        let identity: RPCIdentity
        do {
            identity = try await self.authenticator.verify(request)
        } catch {
            // The reason may repeat what the client sent (a header, a credential): escaped.
            var metadata: Logger.Metadata = [
                "code": "\(error.code.rawValue)", "reason": .untrusted(error.message), "operation": "\(operation.name)",
            ]
            if let remote = connection.remoteIP { metadata["remote"] = "\(remote)" }
            self.logger.warning("request refused at authentication", metadata: metadata)
            return .error(
                requestID: requestID, status: AWSJSONAnswer.status(forCode: error.code.rawValue),
                code: error.code.rawValue,
                message: error.message)
        }
        let message: any SwiftProtobuf.Message
        do {
            message = try operation.requestMessageFromJSON(Data(request.body))
        } catch let error as AWSJSON.DecodingError where error.isValidation {
            return .error(
                requestID: requestID, status: .badRequest, code: KMSError.Code.validation.rawValue,
                message: error.description)
        } catch {
            return .error(
                requestID: requestID, status: .badRequest, code: "SerializationException", message: "\(error)")
        }
        let context = RPCRequestContext(
            method: operation.name, requestID: self.requestIDs.wrappingAdd(1, ordering: .relaxed).newValue,
            connection: connection.authenticated(as: identity),
            externalID: requestID
        )
        do {
            let answer = try await handler(message, context)
            return AWSJSONAnswer(status: .ok, requestID: requestID, body: try operation.responseMessageToJSON(answer))
        } catch {
            let mapped = self.table.mapError(error)
            return .error(
                requestID: requestID, status: AWSJSONAnswer.status(forCode: mapped.code), code: mapped.code,
                message: mapped.message)
        }
    }
}

extension AWSJSONEndpoint {
    /// Throws a ValidationException naming the first entry that `SigV4.HostNames` refuses.
    public static func checkHostNames(_ entries: [String]) throws(KMSError) {
        _ = try SigV4.HostNames(entries)
    }

    /// The Host names the endpoint answers to when `--aws-json-host` is not given: the DNS and
    /// IP names of the TLS certificate (what a verifying client can reach it by), and the
    /// listen address (with `localhost` for a loopback one). Listening on every interface, also
    /// the machine's host name and each interface's address. Each accepts any port.
    public static func defaultHostNames(listenHost: String, certificatePath: String?) throws -> [String] {
        var names: [String] = []
        func add(ip: String) { names.append(ip.contains(":") ? "[\(ip)]" : ip) }
        if let certificatePath, let leaf = try NIOSSLCertificate.fromPEMFile(certificatePath).first {
            for name in leaf._subjectAlternativeNames() {
                switch name.nameType {
                case .dnsName:
                    names.append(String(decoding: name.contents, as: UTF8.self))
                case .ipAddress:
                    if let ip = try? SocketAddress(packedIPAddress: ByteBuffer(bytes: Array(name.contents)), port: 0)
                        .ipAddress
                    {
                        add(ip: ip)
                    }
                default:
                    break
                }
            }
        }
        if ["", "0.0.0.0", "::", "*"].contains(listenHost) {
            names.append(ProcessInfo.processInfo.hostName)
            names.append("localhost")
            for device in (try? System.enumerateDevices()) ?? [] {
                if let ip = device.address?.ipAddress { add(ip: ip) }
            }
        } else {
            if (try? SocketAddress(ipAddress: listenHost, port: 0)) != nil {
                add(ip: listenHost)
            } else {
                names.append(listenHost)
            }
            if listenHost == "::1" || listenHost == "localhost" || listenHost.hasPrefix("127.") {
                names.append("localhost")
            }
        }
        // A name that is not a valid host (a SAN of another form) is left out, not an error.
        var seen = Set<String>()
        return names.filter { (try? SigV4.HostNames([$0])) != nil && seen.insert($0.lowercased()).inserted }
    }
}
