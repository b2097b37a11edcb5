import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// The first handler of an authenticated connection: sends the challenge (after the TLS
/// handshake, when there is one), waits for the one Authenticate request, has it verified, and
/// only then puts the request dispatcher in its own place. Until then nothing is dispatched:
/// any other frame, a refused answer or a silent peer closes the connection.
final class RPCAuthenticationHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = RPCEnvelope
    typealias OutboundOut = RPCEnvelope

    private enum State {
        case idle
        case waitingForTLS
        case challenged(nonce: [UInt8], certificatePrincipal: String?)
        case verifying
        case closing
    }

    private let authentication: RPCServerAuthentication
    private let connection: RPCConnectionInfo
    private let usesTLS: Bool
    private let mapError: @Sendable (any Error) -> RPCError
    private let logger: Logger
    private let makeDispatcher: (RPCConnectionInfo) -> RPCServerHandler
    private var state = State.idle
    private var deadline: Scheduled<Void>?

    init(
        authentication: RPCServerAuthentication, connection: RPCConnectionInfo, usesTLS: Bool,
        mapError: @escaping @Sendable (any Error) -> RPCError, logger: Logger,
        makeDispatcher: @escaping (RPCConnectionInfo) -> RPCServerHandler
    ) {
        self.authentication = authentication
        self.connection = connection
        self.usesTLS = usesTLS
        self.mapError = mapError
        self.logger = logger
        self.makeDispatcher = makeDispatcher
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard case .idle = self.state else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.deadline = context.eventLoop.scheduleTask(in: self.authentication.timeout) {
            let (handler, context) = loopBound.value
            handler.deadlinePassed(context: context)
        }
        if self.usesTLS {
            self.state = .waitingForTLS
        } else {
            self.sendChallenge(context: context, certificatePrincipal: nil)
        }
    }

    private func deadlinePassed(context: ChannelHandlerContext) {
        if case .verifying = self.state {
            // The client answered; this server is too slow to check the answer (a busy database
            // or worker). Not the client's fault, and another try may well succeed.
            self.refuse(
                context: context,
                RPCError(
                    code: RPCError.dependencyTimeoutCode,
                    message: "the server could not check the connection's credentials in time; retry later",
                    retryable: true
                ), accessKeyID: nil)
            return
        }
        self.refuse(
            context: context,
            RPCError(
                code: RPCError.missingAuthenticationTokenCode,
                message:
                    "the connection did not authenticate within "
                    + "\(self.authentication.timeout.nanoseconds / 1_000_000_000) seconds"
            ), accessKeyID: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // A graceful shutdown before the connection was let in: it has no request in flight.
            context.close(promise: nil)
            return
        }
        if case .waitingForTLS = self.state, let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            var principal: String?
            if let map = self.authentication.certificatePrincipal,
                let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
                    .peerCertificate
            {
                principal = map(certificate)
            }
            self.sendChallenge(context: context, certificatePrincipal: principal)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func sendChallenge(context: ChannelHandlerContext, certificatePrincipal: String?) {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        self.state = .challenged(nonce: nonce, certificatePrincipal: certificatePrincipal)
        var challenge = RPCChallenge()
        challenge.nonce = .init(nonce)
        challenge.certificatePrincipal = certificatePrincipal ?? ""
        challenge.anonymousAllowed = self.authentication.anonymousAllowed
        var envelope = RPCEnvelope()
        envelope.requestID = 0
        envelope.method = RPCError.challengeMethod
        envelope.payload = (try? challenge.serializedData()) ?? .init()
        context.writeAndFlush(Self.wrapOutboundOut(envelope), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        guard case .challenged(let nonce, let certificatePrincipal) = self.state else {
            if case .closing = self.state { return }
            self.refuse(
                context: context,
                RPCError(
                    code: RPCError.missingAuthenticationTokenCode,
                    message: "a request arrived before the connection authenticated"
                ), accessKeyID: nil)
            return
        }
        guard envelope.method == RPCError.authenticateMethod, envelope.requestID != 0, !envelope.isError,
            let request = try? RPCAuthenticate(serializedBytes: envelope.payload)
        else {
            self.refuse(
                context: context,
                RPCError(
                    code: RPCError.missingAuthenticationTokenCode,
                    message:
                        "the first request on a connection must be Authenticate; got '\(envelope.method.prefix(64))'"
                ), accessKeyID: nil)
            return
        }
        self.state = .verifying
        let attempt = RPCAuthenticationAttempt(
            connection: self.connection, nonce: nonce, accessKeyID: String(request.accessKeyID.prefix(256)),
            proof: [UInt8](request.proof.prefix(64)), certificatePrincipal: certificatePrincipal
        )
        let verify = self.authentication.verify
        let mapError = self.mapError
        let requestID = envelope.requestID
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        Task {
            let result: Result<RPCIdentity, RPCError>
            do {
                result = .success(try await verify(attempt))
            } catch let error as RPCError {
                result = .failure(error)
            } catch {
                result = .failure(mapError(error))
            }
            eventLoop.execute {
                let (handler, context) = loopBound.value
                switch result {
                case .success(let identity):
                    handler.admit(context: context, identity: identity, requestID: requestID)
                case .failure(let error):
                    handler.refuse(context: context, error, accessKeyID: attempt.accessKeyID)
                }
            }
        }
    }

    private func admit(context: ChannelHandlerContext, identity: RPCIdentity, requestID: UInt64) {
        guard case .verifying = self.state, context.channel.isActive else { return }
        self.deadline?.cancel()
        var info = self.connection
        info.identity = identity
        do {
            try context.pipeline.syncOperations.addHandler(self.makeDispatcher(info), position: .after(self))
        } catch {
            context.close(promise: nil)
            return
        }
        var answer = RPCAuthenticated()
        answer.principalArn = identity.principalARN
        var envelope = RPCEnvelope()
        envelope.requestID = requestID
        envelope.method = RPCError.authenticateMethod
        envelope.payload = (try? answer.serializedData()) ?? .init()
        context.writeAndFlush(Self.wrapOutboundOut(envelope), promise: nil)
        self.logger.debug(
            "connection authenticated",
            metadata: [
                "connection": "\(self.connection.id)", "principal": "\(identity.principalARN)",
                "method": "\(identity.method.rawValue)",
            ])
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Sends the error frame, logs the attempt and closes.
    private func refuse(context: ChannelHandlerContext, _ error: RPCError, accessKeyID: String?) {
        if case .closing = self.state { return }
        self.state = .closing
        self.deadline?.cancel()
        // The reason may repeat what the client sent (a method name), and the access key id is
        // the client's own text: both escaped, so a client cannot write log lines of its own.
        var metadata: Logger.Metadata = [
            "connection": "\(self.connection.id)", "code": .untrusted(error.code), "reason": .untrusted(error.message),
        ]
        if let remote = self.connection.remoteIP { metadata["remote"] = "\(remote)" }
        if let accessKeyID, !accessKeyID.isEmpty { metadata["access_key_id"] = .untrusted(accessKeyID, limit: 128) }
        self.logger.warning("connection refused at authentication", metadata: metadata)
        var envelope = RPCEnvelope()
        envelope.requestID = 0
        envelope.error = RPCServerHandler.body(error)
        context.writeAndFlush(Self.wrapOutboundOut(envelope)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? RPCFrameError {
            self.refuse(context: context, frameError.rpcError, accessKeyID: nil)
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.deadline?.cancel()
        self.state = .closing
        context.fireChannelInactive()
    }
}
