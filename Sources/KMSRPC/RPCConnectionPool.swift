import NIOCore
import NIOPosix
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
        case wait(Task<RPCClientConnection, any Error>)
    }

    public let address: SocketAddress
    public let configuration: RPCConfiguration
    private let group: any EventLoopGroup
    private let slots: Mutex<[Slot]>
    private let next = Atomic<Int>(0)

    public init(
        address: SocketAddress,
        connections: Int,
        configuration: RPCConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.address = address
        self.configuration = configuration
        self.group = group
        self.slots = Mutex(Array(repeating: .idle, count: max(1, connections)))
    }

    /// A live connection (connecting first if its slot has none).
    public func connection() async throws -> RPCClientConnection {
        let index = self.next.wrappingAdd(1, ordering: .relaxed).oldValue % self.slots.withLock { $0.count }
        let pick: Pick = self.slots.withLock { slots in
            switch slots[index] {
            case .connected(let connection) where connection.isActive:
                return .ready(connection)
            case .connecting(let task):
                return .wait(task)
            case .idle, .connected:
                let task = Task { [address, configuration, group] in
                    try await RPCClientConnection.connect(to: address, configuration: configuration, group: group)
                }
                slots[index] = .connecting(task)
                return .wait(task)
            }
        }
        switch pick {
        case .ready(let connection):
            return connection
        case .wait(let task):
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
