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
