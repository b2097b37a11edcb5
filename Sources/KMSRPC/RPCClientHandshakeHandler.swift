import NIOCore

/// The client end of connection authentication: answers the server's challenge, waits for the
/// verdict, then hands the connection to the multiplexing `RPCClientHandler`. Calls can only
/// start after `authenticated` succeeds (`RPCClientConnection.connect` waits for it).
///
/// The handshake's deadline lives here, on the connection's event loop, so that it and the
/// verdict are decided in one place: once the verdict is in, the deadline can no longer close
/// the connection, however late the task waiting for `authenticated` gets to run.
final class RPCClientHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = RPCEnvelope
    typealias OutboundOut = RPCEnvelope

    private enum State {
        case waitingForChallenge
        case waitingForVerdict
        case done
    }

    private let handshake: RPCClientHandshake
    private let makeClientHandler: () -> RPCClientHandler
    /// Succeeds with the principal ARN the server says this connection acts as.
    let authenticated: EventLoopPromise<String>
    private let timeout: TimeAmount
    private let usesTLS: Bool
    private var state = State.waitingForChallenge
    private var deadline: Scheduled<Void>?

    /// `timeout` runs from the moment the connection is established.
    init(
        handshake: @escaping RPCClientHandshake, authenticated: EventLoopPromise<String>, timeout: TimeAmount,
        usesTLS: Bool,
        makeClientHandler: @escaping () -> RPCClientHandler
    ) {
        self.handshake = handshake
        self.authenticated = authenticated
        self.timeout = timeout
        self.usesTLS = usesTLS
        self.makeClientHandler = makeClientHandler
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.armDeadline(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.armDeadline(context: context)
        context.fireChannelActive()
    }

    private func armDeadline(context: ChannelHandlerContext) {
        guard self.deadline == nil, case .waitingForChallenge = self.state else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.deadline = context.eventLoop.scheduleTask(in: self.timeout) {
            let (handler, context) = loopBound.value
            handler.deadlinePassed(context: context)
        }
    }

    private func deadlinePassed(context: ChannelHandlerContext) {
        switch self.state {
        case .waitingForChallenge:
            // Most often a plain-TCP client at a TLS listener (both wait for the other): say so,
            // and do not retry what will fail the same way.
            self.fail(
                context: context,
                RPCError(
                    code: RPCError.timeoutCode,
                    message: self.usesTLS
                        ? "the server did not complete the TLS handshake and its authentication challenge in time"
                        : "no authentication challenge from the server; if it serves TLS, use a tls:// endpoint"
                ))
        case .waitingForVerdict:
            // The server has the answer and is slow to check it (a busy server): another
            // connection may fare better, and nothing was sent that could run twice.
            self.fail(
                context: context,
                RPCError(
                    code: RPCError.timeoutCode, message: "the server did not complete authentication in time",
                    retryable: true
                ))
        case .done:
            break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        if case .error(let body)? = envelope.body {
            self.fail(context: context, RPCError(code: body.code, message: body.message, retryable: body.retryable))
            return
        }
        switch self.state {
        case .waitingForChallenge:
            guard envelope.requestID == 0, envelope.method == RPCError.challengeMethod,
                let challenge = try? RPCChallenge(serializedBytes: envelope.payload)
            else {
                self.fail(context: context, .serialization("the server did not open with an authentication challenge"))
                return
            }
            let answer: RPCAuthenticate
            do {
                answer = try self.handshake(challenge)
            } catch {
                self.fail(
                    context: context,
                    (error as? RPCError)
                        ?? RPCError(
                            code: RPCError.missingAuthenticationTokenCode,
                            message: "no credentials to answer the server's challenge: \(error)"
                        ))
                return
            }
            var request = RPCEnvelope()
            request.requestID = 1
            request.method = RPCError.authenticateMethod
            request.payload = (try? answer.serializedData()) ?? .init()
            self.state = .waitingForVerdict
            context.writeAndFlush(Self.wrapOutboundOut(request), promise: nil)
        case .waitingForVerdict:
            guard envelope.requestID == 1, let verdict = try? RPCAuthenticated(serializedBytes: envelope.payload) else {
                self.fail(context: context, .serialization("the server answered Authenticate with something else"))
                return
            }
            self.finish()
            do {
                try context.pipeline.syncOperations.addHandler(self.makeClientHandler(), position: .after(self))
            } catch {
                self.authenticated.fail(RPCError.connectionClosed())
                context.close(promise: nil)
                return
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            self.authenticated.succeed(verdict.principalArn)
        case .done:
            context.fireChannelRead(data)
        }
    }

    /// The handshake is decided: the deadline has nothing left to do.
    private func finish() {
        self.state = .done
        self.deadline?.cancel()
        self.deadline = nil
    }

    private func fail(context: ChannelHandlerContext, _ error: RPCError) {
        guard case .done = self.state else {
            self.finish()
            self.authenticated.fail(error)
            context.close(promise: nil)
            return
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(
            context: context,
            (error as? RPCFrameError)?.rpcError
                ?? RPCError(code: RPCError.connectionClosedCode, message: "\(error)", retryable: true))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .done = self.state {
        } else {
            self.finish()
            self.authenticated.fail(
                RPCError(
                    code: RPCError.connectionClosedCode,
                    message: "the server closed the connection during authentication", retryable: true
                ))
        }
        context.fireChannelInactive()
    }
}
