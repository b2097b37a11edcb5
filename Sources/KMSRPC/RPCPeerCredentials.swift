import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The Unix user on the other end of a Unix domain socket, read with `SO_PEERCRED`: the uid of
/// the process that called connect() (as seen by a server) or listen() (as seen by a client).
///
/// Both ends of the kmsd ↔ kms-cryptod link check it. The worker serves only its own uid; kmsd
/// talks only to a worker of the expected uid, so that whoever binds the socket path while the
/// worker is down can neither accept access-key proofs nor receive plaintexts.
public enum RPCPeerCredentials {
    /// Checks a connection's peer before anything is read from it or written to it. A failed
    /// future closes the connection (server side) or fails the connect (client side).
    public typealias Check = @Sendable (any Channel) -> EventLoopFuture<Void>

    /// The uid of the peer of a connected Unix domain socket.
    public static func uid(of channel: any Channel) -> EventLoopFuture<UInt32> {
        #if os(Linux)
            guard let provider = channel as? any SocketOptionProvider else {
                return channel.eventLoop.makeFailedFuture(
                    RPCError(code: RPCError.peerRefusedCode, message: "cannot read the peer's credentials"))
            }
            // Glibc's module map hides `struct ucred` (it needs _GNU_SOURCE); same layout, our name.
            let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(17)  // SO_PEERCRED
            )
            return credentials.map { UInt32($0.uid) }
        #else
            return channel.eventLoop.makeFailedFuture(
                RPCError(code: RPCError.peerRefusedCode, message: "peer credentials are read on Linux only"))
        #endif
    }

    /// Refuses a peer whose uid is not `expected`, saying which uid it was.
    public static func check(peerUID: UInt32, expected: UInt32) throws(RPCError) {
        guard peerUID == expected else {
            throw RPCError(
                code: RPCError.peerRefusedCode,
                message: "the peer runs as uid \(peerUID), not the expected uid \(expected)")
        }
    }

    /// A `Check` that admits only peers running as `expected`.
    public static func requireUID(_ expected: UInt32) -> Check {
        { channel in
            uid(of: channel).flatMapThrowing { peer in try check(peerUID: peer, expected: expected) }
        }
    }

    /// The uid this process runs as (effective), the default expected of a peer.
    public static var ownUID: UInt32 { UInt32(geteuid()) }

    #if os(Linux)
        struct PeerCredentials: Sendable {
            var pid: pid_t = 0
            var uid: uid_t = 0
            var gid: gid_t = 0
        }
    #endif
}

extension RPCError {
    /// The peer of a Unix domain socket runs as a user it must not (see `RPCPeerCredentials`).
    public static let peerRefusedCode = "PeerRefusedException"
}
