import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A fixed number of multiplexed connections to one server, used round robin. A connection
/// that dropped is replaced on next use, with one connect per slot at a time: callers arriving
/// meanwhile wait for it rather than opening their own. With a reconnect backoff, attempts
/// after failures wait their turn in an `RPCReconnectSchedule` (callers wait with them), so an
/// endpoint that is down is not hammered by every request.
public final class RPCConnectionPool: Sendable {
    private enum Slot {
        case idle
        case connecting(Task<RPCClientConnection, any Error>)
        case connected(RPCClientConnection)
    }

    private enum Pick {
        case ready(RPCClientConnection)
        case wait(Task<RPCClientConnection, any Error>, slot: Int, generation: Int)
    }

    private struct State {
        var slots: [Slot]
        /// nil: reconnect at once.
        var schedule: RPCReconnectSchedule?
        /// Bumped by close(): a connect started before it is closed when it completes.
        var generation = 0
    }

    /// The one endpoint every connection goes to.
    public let address: SocketAddress
    /// The limits each connection is opened with.
    public let configuration: RPCConfiguration
    private let group: any EventLoopGroup
    private let tls: NIOSSLContext?
    private let serverHostname: String?
    private let handshake: RPCClientHandshake?
    private let peerCheck: RPCPeerCredentials.Check?
    private let state: Mutex<State>
    private let next = Atomic<Int>(0)
    /// The clock the reconnect schedule reads and its waits sleep on (a test's manual clock).
    private let now: @Sendable () -> ContinuousClock.Instant
    private let sleep: @Sendable (ContinuousClock.Instant) async throws -> Void

    /// `reconnectBackoff`: how attempts after failed connects are spaced (nil: not at all).
    public convenience init(
        address: SocketAddress,
        connections: Int,
        configuration: RPCConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        tls: NIOSSLContext? = nil,
        serverHostname: String? = nil,
        handshake: RPCClientHandshake? = nil,
        peerCheck: RPCPeerCredentials.Check? = nil,
        reconnectBackoff: RPCBackoff? = nil
    ) {
        self.init(
            address: address, connections: connections, configuration: configuration, group: group, tls: tls,
            serverHostname: serverHostname, handshake: handshake, peerCheck: peerCheck,
            reconnectBackoff: reconnectBackoff,
            clock: ContinuousClock()
        )
    }

    /// The same, with the clock the reconnect waits are timed on.
    public init<C: Clock>(
        address: SocketAddress,
        connections: Int,
        configuration: RPCConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        tls: NIOSSLContext? = nil,
        serverHostname: String? = nil,
        handshake: RPCClientHandshake? = nil,
        peerCheck: RPCPeerCredentials.Check? = nil,
        reconnectBackoff: RPCBackoff? = nil,
        clock: C
    ) where C.Instant == ContinuousClock.Instant {
        self.now = { clock.now }
        self.sleep = { deadline in try await clock.sleep(until: deadline, tolerance: nil) }
        self.address = address
        self.configuration = configuration
        self.group = group
        self.tls = tls
        self.serverHostname = serverHostname
        self.handshake = handshake
        self.peerCheck = peerCheck
        self.state = Mutex(
            State(
                slots: Array(repeating: .idle, count: max(1, connections)),
                schedule: reconnectBackoff.map(RPCReconnectSchedule.init(backoff:))
            ))
    }

    /// A live connection (connecting first if its slot has none). A caller running on an event
    /// loop gets a connection of that same loop when there is one, so its request is written
    /// without waking another thread.
    public func connection() async throws -> RPCClientConnection {
        let turn = self.next.wrappingAdd(1, ordering: .relaxed).oldValue
        let pick: Pick = self.state.withLock { state in
            let count = state.slots.count
            for offset in 0..<count {
                if case .connected(let connection) = state.slots[(turn &+ offset) % count],
                    connection.isActive, connection.channel.eventLoop.inEventLoop
                {
                    return .ready(connection)
                }
            }
            let index = turn % count
            switch state.slots[index] {
            case .connected(let connection) where connection.isActive:
                return .ready(connection)
            case .connecting(let task):
                return .wait(task, slot: index, generation: state.generation)
            case .idle, .connected:
                // One connect per slot at a time; callers arriving meanwhile wait for it.
                let now = self.now()
                let wait = state.schedule?.wait(at: now) ?? .zero
                // Connects are failing (a server that stopped accepting, shutting down): a live
                // connection of another slot serves now rather than after the backoff.
                if wait > .zero, let live = Self.anyLive(state.slots) { return .ready(live) }
                let task = Task {
                    if wait > .zero { try await self.sleep(now + wait) }
                    return try await self.attempt()
                }
                state.slots[index] = .connecting(task)
                return .wait(task, slot: index, generation: state.generation)
            }
        }
        switch pick {
        case .ready(let connection):
            return connection
        case .wait(let task, let index, let generation):
            let connection: RPCClientConnection
            do {
                connection = try await task.value
            } catch {
                let live = self.state.withLock { state -> RPCClientConnection? in
                    if case .connecting(let current) = state.slots[index], current == task {
                        state.slots[index] = .idle
                    }
                    return Self.anyLive(state.slots)
                }
                // The server stopped accepting but still serves the connections it has (a
                // kms-cryptod shutting down beside kmsd): one of those rather than a failure.
                if let live { return live }
                throw error
            }
            let current = self.state.withLock { state -> Bool in
                guard state.generation == generation else { return false }
                if case .connecting(let pending) = state.slots[index], pending == task {
                    state.slots[index] = .connected(connection)
                }
                return true
            }
            guard current else {
                // The pool was closed while this connect ran: nobody else would ever close it.
                await connection.close()
                throw RPCError.connectionClosed()
            }
            return connection
        }
    }

    private static func anyLive(_ slots: [Slot]) -> RPCClientConnection? {
        for slot in slots {
            if case .connected(let connection) = slot, connection.isActive { return connection }
        }
        return nil
    }

    /// One connect, its outcome noted in the reconnect schedule.
    private func attempt() async throws -> RPCClientConnection {
        let started = self.now()
        do {
            let connection = try await RPCClientConnection.connect(
                to: self.address, configuration: self.configuration, group: self.group, tls: self.tls,
                serverHostname: self.serverHostname, handshake: self.handshake, peerCheck: self.peerCheck
            )
            self.state.withLock { state in state.schedule?.succeeded() }
            return connection
        } catch {
            self.state.withLock { state in state.schedule?.failed(attemptStartedAt: started, at: self.now()) }
            throw error
        }
    }

    /// Closes the open connections and abandons connects under way (one waiting out its backoff
    /// stops at once). The pool may be used again afterwards: it connects anew.
    public func close() async {
        let (connections, connecting) = self.state.withLock {
            state -> ([RPCClientConnection], [Task<RPCClientConnection, any Error>]) in
            defer {
                state.slots = state.slots.map { _ in .idle }
                state.generation += 1
            }
            var connections: [RPCClientConnection] = []
            var connecting: [Task<RPCClientConnection, any Error>] = []
            for slot in state.slots {
                switch slot {
                case .connected(let connection): connections.append(connection)
                case .connecting(let task): connecting.append(task)
                case .idle: break
                }
            }
            return (connections, connecting)
        }
        for task in connecting { task.cancel() }
        for connection in connections { await connection.close() }
    }
}
