import KMSDomain

extension RPCError {
    /// What a peer is told of a failure, the one mapping both servers (kmsd's binary protocol and
    /// AWS JSON endpoint, kms-cryptod) use: a KMSError as its AWS exception name, message and
    /// retryability; an RPCError as it is; anything else as a generic internal error, so that no
    /// detail of an unexpected failure reaches the peer.
    public init(answering error: any Error) {
        switch error {
        case let error as KMSError:
            self.init(code: error.code.rawValue, message: error.message, retryable: error.retryable)
        case let error as RPCError:
            self = error
        default:
            self = .internal()
        }
    }
}

extension KMSError {
    /// The failure a peer answered with, the inverse of `RPCError(answering:)`: its AWS exception,
    /// message and retryability as they came; nil when the code names no exception this build
    /// knows (the link's own codes: a timeout, a closed connection).
    public init?(answered error: RPCError) {
        guard let code = KMSError.Code(rawValue: error.code) else { return nil }
        self.init(code, error.message, retryable: error.retryable)
    }
}
