import NIOCore

/// The client end of connection authentication: answers the server's challenge, waits for the
/// verdict, then hands the connection to the multiplexing `RPCClientHandler`. Calls can only
/// start after `authenticated` succeeds (`RPCClientConnection.connect` waits for it).
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
    private var state = State.waitingForChallenge

    init(handshake: @escaping RPCClientHandshake, authenticated: EventLoopPromise<String>, makeClientHandler: @escaping () -> RPCClientHandler) {
        self.handshake = handshake
        self.authenticated = authenticated
        self.makeClientHandler = makeClientHandler
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
                self.fail(context: context, (error as? RPCError) ?? RPCError(
                    code: RPCError.missingAuthenticationTokenCode, message: "no credentials to answer the server's challenge: \(error)"
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
            self.state = .done
            do {
                try context.pipeline.syncOperations.addHandler(self.makeClientHandler(), position: .after(self))
            } catch {
                self.fail(context: context, .connectionClosed())
                return
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            self.authenticated.succeed(verdict.principalArn)
        case .done:
            context.fireChannelRead(data)
        }
    }

    private func fail(context: ChannelHandlerContext, _ error: RPCError) {
        guard case .done = self.state else {
            self.state = .done
            self.authenticated.fail(error)
            context.close(promise: nil)
            return
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(context: context, (error as? RPCFrameError)?.rpcError ?? RPCError(code: RPCError.connectionClosedCode, message: "\(error)", retryable: true))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .done = self.state {} else {
            self.state = .done
            self.authenticated.fail(RPCError(
                code: RPCError.connectionClosedCode, message: "the server closed the connection during authentication", retryable: true
            ))
        }
        context.fireChannelInactive()
    }
}
