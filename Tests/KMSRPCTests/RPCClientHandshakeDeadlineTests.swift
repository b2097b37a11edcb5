import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import KMSRPC

/// The client's handshake deadline against a connecting task that resumes late (a busy
/// cooperative pool): a handshake that completed in time is never undone by the deadline.
@Suite struct RPCClientHandshakeDeadlineTests {
    /// The connecting task runs here, one job at a time when the test says: the test decides when
    /// it resumes, whatever the event loops do meanwhile.
    final class HeldExecutor: TaskExecutor, @unchecked Sendable {
        private let jobs = Mutex<[UnownedJob]>([])

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            self.jobs.withLock { $0.append(job) }
        }

        var hasJobs: Bool { self.jobs.withLock { !$0.isEmpty } }

        func runJobs() {
            while let job = self.jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                job.runSynchronously(on: self.asUnownedTaskExecutor())
            }
        }
    }

    /// Lets the server's verifier answer only when the test opens it.
    final class Gate: Sendable {
        private let state = Mutex<(reached: Bool, open: CheckedContinuation<Void, Never>?, opened: Bool)>(
            (false, nil, false))

        var reached: Bool { self.state.withLock { $0.reached } }

        func pass() async {
            await withCheckedContinuation { continuation in
                let go = self.state.withLock { state -> Bool in
                    state.reached = true
                    if state.opened { return true }
                    state.open = continuation
                    return false
                }
                if go { continuation.resume() }
            }
        }

        func open() {
            let waiting = self.state.withLock { state in
                state.opened = true
                return state.open.take()
            }
            waiting?.resume()
        }
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { self.value.load(ordering: .relaxed) }
        func set() { self.value.store(true, ordering: .relaxed) }
    }

    static let whoAmI = RPCMethod<RPCErrorBody, RPCErrorBody>("WhoAmI")

    /// Waits, polling, until `condition` holds (the outcome never depends on how long it takes).
    static func until(_ condition: () -> Bool) async throws {
        while !condition() { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test func aHandshakeThatCompletedIsNotClosedByItsDeadlineWhenTheCallerResumesLate() async throws {
        // The scenario needs the verdict to arrive before the deadline: when this machine is too
        // slow for that (a sanitizer, a loaded machine), it is set up again with twice the time.
        var timeout = TimeAmount.milliseconds(200)
        while true {
            do {
                try await Self.resumeLate(handshakeTimeout: timeout) { connection async throws in
                    #expect(connection.isActive, "the deadline closed a connection whose handshake had completed")
                    #expect(
                        try await connection.call(Self.whoAmI, RPCErrorBody()).message
                            == "arn:aws:iam::111122223333:user/late")
                }
                return
            } catch let error as RPCError where error.code == RPCError.timeoutCode && timeout < .seconds(30) {
                timeout = timeout * 2
            }
        }
    }

    /// Connects through a server that holds its verdict until the connecting task is parked on
    /// it; lets the verdict through but keeps the task from running until the deadline has
    /// passed on the connection's loop; then lets it finish and hands the connection to `use`.
    /// Throws the handshake's timeout when the verdict itself came after the deadline (nothing
    /// shown then).
    static func resumeLate(handshakeTimeout: TimeAmount, _ use: (RPCClientConnection) async throws -> Void) async throws
    {
        let gate = Gate()
        var table = RPCHandlerTable()
        table.register(Self.whoAmI) { _, context in
            var body = RPCErrorBody()
            body.message = context.connection.identity?.principalARN ?? "nobody"
            return body
        }
        let server = try await RPCServer.bind(
            to: SocketAddress(ipAddress: "127.0.0.1", port: 0), table: table, logger: Logger(label: "test"),
            authentication: RPCServerAuthentication { _ in
                await gate.pass()
                return RPCIdentity(principalARN: "arn:aws:iam::111122223333:user/late", method: .accessKey)
            }
        )
        // One loop: the deadline, the handshake and the marker below share one ordered timeline.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let address = try #require(server.localAddress)
        var configuration = RPCConfiguration()
        configuration.handshakeTimeout = handshakeTimeout
        let held = HeldExecutor()
        let finished = Flag()
        let connecting = Task(executorPreference: held) {
            defer { finished.set() }
            return try await RPCClientConnection.connect(
                to: address, configuration: configuration, group: group, handshake: { _ in RPCAuthenticate() }
            )
        }
        // Run the connecting task until the server holds its answer: the task now waits for the
        // verdict, its deadline armed. (Or until the deadline came first.)
        while !gate.reached && !finished.isSet {
            held.runJobs()
            try await Task.sleep(for: .milliseconds(5))
        }
        held.runJobs()
        // The verdict arrives; the task that waits for it is ready to resume but does not run (as
        // when the cooperative pool's threads are all blocked).
        gate.open()
        try await Self.until { held.hasJobs || finished.isSet }
        // Past the deadline on the connection's loop: a task due later than it runs after it.
        try await group.next().scheduleTask(in: handshakeTimeout + .milliseconds(100)) {}.futureResult.get()
        held.runJobs()
        let result = await connecting.result
        if case .success(let connection) = result {
            try await use(connection)
            await connection.close()
        }
        await server.close()
        try await group.shutdownGracefully()
        _ = try result.get()
    }

    // The handler's deadline on a test loop: which state it finds decides what it does.

    static func handshakeChannel(timeout: TimeAmount = .seconds(10)) throws -> (
        EmbeddedChannel, EventLoopFuture<String>
    ) {
        let channel = EmbeddedChannel()
        let authenticated = channel.eventLoop.makePromise(of: String.self)
        try channel.pipeline.syncOperations.addHandler(
            RPCClientHandshakeHandler(
                handshake: { _ in RPCAuthenticate() }, authenticated: authenticated, timeout: timeout, usesTLS: false,
                makeClientHandler: { RPCClientHandler(maxFrameLength: 4096) }
            ))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, authenticated.futureResult)
    }

    static func challenge() throws -> RPCEnvelope {
        var envelope = RPCEnvelope()
        envelope.method = RPCError.challengeMethod
        envelope.payload = try RPCChallenge.with { $0.nonce = Data(repeating: 7, count: 32) }.serializedData()
        return envelope
    }

    static func verdict() throws -> RPCEnvelope {
        var envelope = RPCEnvelope()
        envelope.requestID = 1
        envelope.method = RPCError.authenticateMethod
        envelope.payload = try RPCAuthenticated.with { $0.principalArn = "arn:aws:iam::111122223333:user/a" }
            .serializedData()
        return envelope
    }

    /// The test loop completes futures synchronously: the callback has run when this returns.
    static func failure(of future: EventLoopFuture<String>) -> RPCError? {
        nonisolated(unsafe) var failure: RPCError?
        future.whenFailure { failure = $0 as? RPCError }
        return failure
    }

    @Test func aVerdictBeforeTheDeadlineDisarmsIt() throws {
        let (channel, authenticated) = try Self.handshakeChannel()
        try channel.writeInbound(Self.challenge())
        #expect(try channel.readOutbound(as: RPCEnvelope.self)?.method == RPCError.authenticateMethod)
        try channel.writeInbound(Self.verdict())
        #expect(try authenticated.wait() == "arn:aws:iam::111122223333:user/a")
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        _ = try channel.finish()
    }

    @Test func noChallengeInTimeFailsForGoodAndCloses() throws {
        let (channel, authenticated) = try Self.handshakeChannel()
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let error = try #require(Self.failure(of: authenticated))
        #expect(error.code == RPCError.timeoutCode && !error.retryable)
        #expect(error.message.contains("tls://"))
        #expect(!channel.isActive)
    }

    @Test func aSlowVerdictFailsRetryablyAndCloses() throws {
        let (channel, authenticated) = try Self.handshakeChannel()
        try channel.writeInbound(Self.challenge())
        _ = try channel.readOutbound(as: RPCEnvelope.self)
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        let error = try #require(Self.failure(of: authenticated))
        #expect(error.code == RPCError.timeoutCode && error.retryable)
        #expect(!channel.isActive)
    }
}
