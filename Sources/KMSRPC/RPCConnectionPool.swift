import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A fixed number of multiplexed connections to one server, used round robin. A connection
/// that dropped is replaced on next use, with one connect per slot at a time: callers arriving
/// meanwhile wait for it rather than opening their own.
public final class RPCConnectionPool: Sendable {
    private enum Slot {
        case idle
        case connecting(Task<RPCClientConnection, any Error>)
        case connected(RPCClientConnection)
    }

    private enum Pick {
        case ready(RPCClientConnection)
        case wait(Task<RPCClientConnection, any Error>, slot: Int)
    }

    public let address: SocketAddress
    public let configuration: RPCConfiguration
    private let group: any EventLoopGroup
    private let tls: NIOSSLContext?
    private let serverHostname: String?
    private let handshake: RPCClientHandshake?
    private let peerCheck: RPCPeerCredentials.Check?
    private let slots: Mutex<[Slot]>
    private let next = Atomic<Int>(0)

    public init(
        address: SocketAddress,
        connections: Int,
        configuration: RPCConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        tls: NIOSSLContext? = nil,
        serverHostname: String? = nil,
        handshake: RPCClientHandshake? = nil,
        peerCheck: RPCPeerCredentials.Check? = nil
    ) {
        self.address = address
        self.configuration = configuration
        self.group = group
        self.tls = tls
        self.serverHostname = serverHostname
        self.handshake = handshake
        self.peerCheck = peerCheck
        self.slots = Mutex(Array(repeating: .idle, count: max(1, connections)))
    }

    /// A live connection (connecting first if its slot has none). A caller running on an event
    /// loop gets a connection of that same loop when there is one, so its request is written
    /// without waking another thread.
    public func connection() async throws -> RPCClientConnection {
        let turn = self.next.wrappingAdd(1, ordering: .relaxed).oldValue
        let pick: Pick = self.slots.withLock { slots in
            let count = slots.count
            for offset in 0..<count {
                if case .connected(let connection) = slots[(turn &+ offset) % count],
                   connection.isActive, connection.channel.eventLoop.inEventLoop {
                    return .ready(connection)
                }
            }
            let index = turn % count
            switch slots[index] {
            case .connected(let connection) where connection.isActive:
                return .ready(connection)
            case .connecting(let task):
                return .wait(task, slot: index)
            case .idle, .connected:
                // One connect per slot at a time; callers arriving meanwhile wait for it.
                let task = Task { [address, configuration, group, tls, serverHostname, handshake, peerCheck] in
                    try await RPCClientConnection.connect(
                        to: address, configuration: configuration, group: group, tls: tls,
                        serverHostname: serverHostname, handshake: handshake, peerCheck: peerCheck
                    )
                }
                slots[index] = .connecting(task)
                return .wait(task, slot: index)
            }
        }
        switch pick {
        case .ready(let connection):
            return connection
        case .wait(let task, let index):
            do {
                let connection = try await task.value
                self.slots.withLock { slots in
                    if case .connecting = slots[index] { slots[index] = .connected(connection) }
                }
                return connection
            } catch {
                self.slots.withLock { slots in
                    if case .connecting = slots[index] { slots[index] = .idle }
                }
                throw error
            }
        }
    }

    public func close() async {
        let connections = self.slots.withLock { slots -> [RPCClientConnection] in
            defer { slots = slots.map { _ in .idle } }
            return slots.compactMap { slot in
                if case .connected(let connection) = slot { return connection }
                return nil
            }
        }
        for connection in connections { await connection.close() }
    }
}
