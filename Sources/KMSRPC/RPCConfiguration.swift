import NIOCore

/// Limits shared by both ends of a framed RPC link.
public struct RPCConfiguration: Sendable {
    /// The largest envelope accepted or sent, in bytes (the 4-byte length prefix excluded).
    /// A peer announcing a longer frame gets an error frame and is disconnected; the frame is
    /// never allocated.
    public var maxFrameLength: Int = 64 * 1024
    /// Server side: requests one connection may have in flight before the server stops reading
    /// from it (back-pressure rather than an unbounded queue).
    public var maxInFlightPerConnection: Int = 256
    /// Client side: how long a call waits for its answer unless the call says otherwise.
    public var defaultTimeout: TimeAmount = .seconds(10)
    /// Client side: how long an authenticated connection may take, from the moment it is
    /// established, to receive the server's challenge and its verdict on the answer. Its own
    /// limit: a client with a short call timeout should not fail to connect to a busy server.
    public var handshakeTimeout: TimeAmount = .seconds(10)

    /// The defaults: 64 KiB frames, 256 requests in flight per connection, 10 s timeouts.
    public init() {}

    /// The defaults with another frame limit (the client's `Configuration.maxFrameLength`).
    public init(maxFrameLength: Int) {
        self.maxFrameLength = maxFrameLength
    }
}
