import Foundation
import KMSClient
import KMSProto
import KMSRPC
import Synchronization

/// Client-side round robin over kmsd replicas, what a load balancer in front of them does
/// (a Kubernetes Service, an L4 balancer): each call goes to the next replica; one that cannot
/// be reached, or drops a request in flight, is left out for `downFor` and the call goes on to
/// the next one, unless the request may have taken effect and is not safe to repeat
/// (KMSClient's own rule: CreateKey, CreateGrant, RotateKeyOnDemand, ImportKeyMaterial).
///
/// KMSClient itself keeps one endpoint: a deployment of several kmsd puts one address in front
/// of them, and KMSClient's reconnects then reach a live replica. This is the test's stand-in
/// for that address, which also says which replica answered each call.
final class RoundRobinClient: Sendable {
    /// How a call ended on the replica it was last tried on.
    struct Failure: Error, CustomStringConvertible {
        let error: KMSClientError
        let replica: Int
        /// When the last attempt (the one on `replica`) started.
        let attemptStarted: ContinuousClock.Instant

        var description: String { "\(self.error.code) on replica \(self.replica): \(self.error.message)" }
    }

    /// A replica that failed this way is left out for a while.
    static let downFor = Duration.seconds(2)
    /// Passes over the replicas for one call.
    static let rounds = 3
    /// As KMSClient.notIdempotent: a request lost in flight may have taken effect.
    static let notIdempotent: Set<String> = ["CreateKey", "CreateGrant", "RotateKeyOnDemand", "ImportKeyMaterial"]

    let replicas: [KMSClient]
    /// Calls answered by a replica after failing on another: the ones carried over.
    let carriedOver = Atomic<Int>(0)
    private let turn = Atomic<Int>(0)
    private let downUntil: Mutex<[ContinuousClock.Instant]>

    /// One client per replica; each should try once (`maxAttempts` 1): the retries are ours.
    init(_ replicas: [KMSClient]) {
        self.replicas = replicas
        self.downUntil = Mutex(Array(repeating: ContinuousClock.now, count: replicas.count))
    }

    /// The answer and the replica that gave it.
    func call<Request, Response>(_ method: RPCMethod<Request, Response>, _ request: Request) async throws(Failure)
        -> (response: Response, replica: Int)
    {
        let count = self.replicas.count
        let first = self.turn.wrappingAdd(1, ordering: .relaxed).oldValue
        var last: Failure?
        for round in 0..<Self.rounds {
            if round > 0 { try? await Task.sleep(for: .milliseconds(100 * round)) }
            let now = ContinuousClock.now
            let down = self.downUntil.withLock { $0 }
            let order = (0..<count).map { (first + $0) % count }
            for replica in order.filter({ down[$0] <= now }) + order.filter({ down[$0] > now }) {
                let started = ContinuousClock.now
                do {
                    let response = try await self.replicas[replica].call(method, request)
                    if last != nil { self.carriedOver.add(1, ordering: .relaxed) }
                    return (response, replica)
                } catch {
                    let failure = Failure(error: error, replica: replica, attemptStarted: started)
                    last = failure
                    let unreachable = error.code == "ConnectionFailedException"
                    let lostInFlight =
                        error.code == RPCError.connectionClosedCode || error.code == RPCError.timeoutCode
                    if unreachable || lostInFlight {
                        self.downUntil.withLock { $0[replica] = ContinuousClock.now + Self.downFor }
                    }
                    guard error.retryable, !(lostInFlight && Self.notIdempotent.contains(method.name)) else {
                        throw failure
                    }
                }
            }
        }
        throw last!
    }

    func close() async {
        for client in self.replicas { await client.close() }
    }
}
