import Foundation
import KMSClient
import KMSRPC
import NIOCore
import Synchronization

/// When a run stops and which completions count.
final class RunWindow: Sendable {
    let start: ContinuousClock.Instant
    let measureFrom: ContinuousClock.Instant
    let deadline: ContinuousClock.Instant?
    let requestLimit: Int?
    let issued = Atomic<Int>(0)

    init(
        start: ContinuousClock.Instant, measureFrom: ContinuousClock.Instant, deadline: ContinuousClock.Instant?,
        requestLimit: Int?
    ) {
        self.start = start
        self.measureFrom = measureFrom
        self.deadline = deadline
        self.requestLimit = requestLimit
    }

    /// Claims the next request; false when the run is over.
    func claim(now: ContinuousClock.Instant) -> Bool {
        if let deadline, now >= deadline { return false }
        if let requestLimit {
            return self.issued.wrappingAdd(1, ordering: .relaxed).oldValue < requestLimit
        }
        return true
    }
}

/// The endpoints requests go to: one KMSClient (and, for the ceiling pair, one raw connection)
/// per simulated connection; over AWS JSON, one HTTP connection per request in flight (HTTP/1.1
/// carries one request at a time), `inFlight` of them per lane.
struct Lanes: Sendable {
    let clients: [KMSClient]
    let echoes: [RPCClientConnection]
    var aws: [AWSJSONConnection] = []
    var awsBodies: AWSJSONBodies?
    /// The event loop each client's connection runs on (`KMSClient.Configuration.eventLoopGroup`).
    var loops: [any EventLoop] = []

    var count: Int { max(self.clients.count, self.echoes.count) }

    /// The HTTP connection of worker `slot` of `lane` (nil: the binary protocol).
    func aws(lane: Int, slot: Int, inFlight: Int) -> AWSJSONConnection? {
        self.aws.isEmpty ? nil : self.aws[(lane * inFlight + slot) % self.aws.count]
    }

    /// Where worker `slot` of `lane` runs: on the event loop of the connection it sends on, so
    /// a request is written and its answer heard without a hop between the loop's thread and
    /// Swift's global pool (two thread wake-ups a request, on the machine the service shares).
    func executor(lane: Int, slot: Int, inFlight: Int) -> (any TaskExecutor)? {
        if let aws = self.aws(lane: lane, slot: slot, inFlight: inFlight) {
            return EventLoopTaskExecutor(aws.eventLoop)
        }
        if !self.echoes.isEmpty {
            return EventLoopTaskExecutor(self.echoes[lane % self.echoes.count].channel.eventLoop)
        }
        if !self.loops.isEmpty { return EventLoopTaskExecutor(self.loops[lane % self.loops.count]) }
        return nil
    }
}

enum LoadShapes {
    /// Closed loop: `inFlight` workers per connection, each sending its next request as soon as
    /// the previous one is answered.
    static func closedLoop(
        lanes: Lanes, inFlight: Int, mix: Mix, workload: Workload, window: RunWindow, recorder: Recorder
    ) async {
        await withDiscardingTaskGroup { group in
            for lane in 0..<lanes.count {
                for slot in 0..<inFlight {
                    group.addTask(executorPreference: lanes.executor(lane: lane, slot: slot, inFlight: inFlight)) {
                        var random = FastRandom(seed: UInt64(lane &* 7919 &+ slot &+ 1))
                        let client = lanes.clients.isEmpty ? nil : lanes.clients[lane % lanes.clients.count]
                        let echo = lanes.echoes.isEmpty ? nil : lanes.echoes[lane % lanes.echoes.count]
                        let aws = lanes.aws(lane: lane, slot: slot, inFlight: inFlight)
                        while window.claim(now: .now) {
                            let operation = mix.pick(Int(truncatingIfNeeded: random.next() >> 1))
                            let target = Int(truncatingIfNeeded: random.next() >> 1)
                            let started = ContinuousClock.now
                            let error: String?
                            if let aws, let bodies = lanes.awsBodies {
                                error = await Self.send(operation, target: target, bodies: bodies, on: aws)
                            } else {
                                error = await Self.send(
                                    operation, target: target, workload: workload, client: client, echo: echo)
                            }
                            let finished = ContinuousClock.now
                            if finished >= window.measureFrom {
                                recorder.record(microseconds: (finished - started).microseconds, error: error)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Open loop: requests leave at `rate` per second whether or not earlier ones were answered;
    /// latency counts from the intended send time, so queueing is not hidden (no coordinated
    /// omission). More than `maxOutstanding` unanswered requests count as ClientOverloaded.
    static func openLoop(
        lanes: Lanes, rate: Double, maxOutstanding: Int, mix: Mix, workload: Workload, window: RunWindow,
        recorder: Recorder
    ) async {
        let outstanding = SharedCounter()
        let interval = Duration.nanoseconds(Int64(1_000_000_000 / rate))
        let executors = (0..<lanes.count).map { lanes.executor(lane: $0, slot: 0, inFlight: 1) }
        await withDiscardingTaskGroup { group in
            var random = FastRandom(seed: 42)
            var next = window.start
            var sequence = 0
            while true {
                let now = ContinuousClock.now
                var finished = false
                while next <= now {
                    guard window.claim(now: next) else {
                        finished = true
                        break
                    }
                    let intended = next
                    next += interval
                    sequence += 1
                    let operation = mix.pick(Int(truncatingIfNeeded: random.next() >> 1))
                    let target = Int(truncatingIfNeeded: random.next() >> 1)
                    let lane = sequence % lanes.count
                    guard outstanding.value.wrappingAdd(1, ordering: .relaxed).oldValue < maxOutstanding else {
                        outstanding.value.wrappingSubtract(1, ordering: .relaxed)
                        if intended >= window.measureFrom {
                            recorder.record(microseconds: 1, error: "ClientOverloaded")
                        }
                        continue
                    }
                    group.addTask(executorPreference: executors[lane]) {
                        let client = lanes.clients.isEmpty ? nil : lanes.clients[lane % lanes.clients.count]
                        let echo = lanes.echoes.isEmpty ? nil : lanes.echoes[lane % lanes.echoes.count]
                        let error = await Self.send(
                            operation, target: target, workload: workload, client: client, echo: echo)
                        outstanding.value.wrappingSubtract(1, ordering: .relaxed)
                        if intended >= window.measureFrom {
                            recorder.record(microseconds: (ContinuousClock.now - intended).microseconds, error: error)
                        }
                    }
                }
                if finished { break }
                // Sleep, at least 1 ms, and send whatever fell due meanwhile: yielding instead
                // (as this did below 1 ms) spins a core at rates above 1000/s, which on a small
                // machine is taken from the service measured, and stalls the requests' own tasks.
                let wait = next - ContinuousClock.now
                if wait > .zero {
                    try? await Task.sleep(for: max(wait, .milliseconds(1)))
                } else {
                    await Task.yield()
                }
            }
        }
    }

    /// One AWS JSON request; the error code when it failed.
    static func send(_ operation: Operation, target: Int, bodies: AWSJSONBodies, on connection: AWSJSONConnection)
        async -> String?
    {
        guard let body = bodies.body(operation, target: target) else { return "ValidationException" }
        do {
            _ = try await connection.call(operation.rawValue, body: body)
            return nil
        } catch let error as KMSClientError {
            return error.code
        } catch {
            return "ClientError"
        }
    }

    /// One request; the error code when it failed.
    static func send(
        _ operation: Operation, target: Int, workload: Workload, client: KMSClient?, echo: RPCClientConnection?
    ) async -> String? {
        do {
            try await workload.perform(operation, target: target, on: client, echo: echo)
            return nil
        } catch let error as KMSClientError {
            return error.code
        } catch {
            return "ClientError"
        }
    }
}

final class SharedCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// xorshift64*: cheap per-worker randomness for picking operations and keys.
struct FastRandom {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next() -> UInt64 {
        self.state ^= self.state >> 12
        self.state ^= self.state << 25
        self.state ^= self.state >> 27
        return self.state &* 0x2545_F491_4F6C_DD1D
    }
}

extension Duration {
    var microseconds: UInt64 {
        let (seconds, attoseconds) = self.components
        return UInt64(max(0, seconds)) * 1_000_000 + UInt64(max(0, attoseconds / 1_000_000_000_000))
    }
}
