import NIOCore
import Synchronization

/// The connections a listener accepted that are still open, for a graceful shutdown: once the
/// listener stops accepting, `quiesce` asks each to finish (a `ChannelShouldQuiesceEvent`: the
/// binary protocol answers what is in flight, refuses new requests and closes; HTTP answers the
/// request under way with `Connection: close`), `waitUntilClosed` waits for them within a bound,
/// and `closeAll` closes whatever is left.
public final class OpenConnections: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var quiescing = false
    }

    private let state = Mutex(State())

    /// No connections yet.
    public init() {}

    /// Follows `channel` until it closes. One accepted after `quiesce` is asked to finish at once.
    public func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let quiescing = self.state.withLock { state in
            state.channels[id] = channel
            return state.quiescing
        }
        channel.closeFuture.whenComplete { _ in
            _ = self.state.withLock { $0.channels.removeValue(forKey: id) }
        }
        if quiescing { Self.quiesce(channel) }
    }

    /// How many are open.
    public var count: Int { self.state.withLock { $0.channels.count } }

    /// Asks every open connection (and each one tracked from now on) to finish and close.
    public func quiesce() {
        let channels = self.state.withLock { state in
            state.quiescing = true
            return Array(state.channels.values)
        }
        for channel in channels { Self.quiesce(channel) }
    }

    private static func quiesce(_ channel: any Channel) {
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }

    /// Waits until every connection has closed, or `limit` has passed; true when all closed.
    public func waitUntilClosed(within limit: Duration) async -> Bool {
        let end = ContinuousClock.now + limit
        while self.count > 0 {
            guard ContinuousClock.now < end, !Task.isCancelled else { return false }
            // A poll rather than a continuation per close: a shutdown looks a few dozen times.
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Closes every connection still open; in-flight work on them is abandoned.
    public func closeAll() async {
        let channels = self.state.withLock { Array($0.channels.values) }
        for channel in channels { try? await channel.close() }
    }
}
