import Crypto
import Foundation
import KMSClient
import KMSProto
import KMSRPC
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SwiftProtobuf
import Synchronization

/// kms-agent's AWS JSON 1.1 endpoint on the pod's loopback: an unmodified AWS SDK or aws CLI in
/// the application, pointed at it (`AWS_ENDPOINT_URL_KMS`), is served through kmsd under the
/// agent's own identity. The application's signature is not checked: what reaches the pod's
/// loopback is the pod, the only identity the agent speaks for, and the application needs no
/// real credentials (any access key lets an SDK sign). Only KMS operations are forwarded.
public final class AgentEndpoint: Sendable {
    let clients: ReloadingKMSClient
    let caches: AgentCacheSettings
    let limits: AWSJSONLimits
    let timeout: Duration
    let logger: Logger
    let counters = AgentCacheCounters()
    let decrypts: AnswerCache<[UInt8]>?
    let dataKeys: AnswerCache<DataKey>?
    private let requestIDs = Atomic<UInt64>(0)
    private let prefix = String(UInt64.random(in: 0...UInt64.max), radix: 16)

    /// A reused data key: its answer, and what it was used for so far.
    struct DataKey: Sendable {
        var answer: [UInt8]
        var messages: Int
        var bytes: Int
    }

    /// The declared size of what a caller encrypts under the data key it asks for.
    static let plaintextBytesHeader = "x-kms-agent-plaintext-bytes"

    /// An endpoint forwarding to kmsd through `clients`, with `caches`.
    public init(
        clients: ReloadingKMSClient, caches: AgentCacheSettings, limits: AWSJSONLimits = .init(),
        timeout: Duration = .seconds(5), logger: Logger
    ) {
        self.clients = clients
        self.caches = caches
        self.limits = limits
        self.timeout = timeout
        self.logger = logger
        self.decrypts = caches.decryptMaxAge.map { AnswerCache(maxAge: $0, maxEntries: caches.decryptMaxEntries) }
        self.dataKeys = caches.dataKeyMaxAge.map { AnswerCache(maxAge: $0, maxEntries: caches.dataKeyMaxEntries) }
    }

    /// Binds on `address` (loopback: the caller checks) and serves until the channel is closed.
    public func bind(to address: SocketAddress) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    try AWSJSONHTTPHandler.addHTTPServerHandlers(to: operations, overTLS: false)
                    try operations.addHandler(IdleStateHandler(readTimeout: self.limits.idleTimeout))
                    try operations.addHandler(
                        AWSJSONHTTPHandler(limits: self.limits, newRequestID: { self.nextRequestID() }) { request in
                            await self.respond(to: request)
                        })
                }
            }
            .bind(to: address).get()
    }

    private func nextRequestID() -> String {
        "agent-\(self.prefix)-\(self.requestIDs.wrappingAdd(1, ordering: .relaxed).newValue)"
    }

    /// One request in, its answer out; every failure is an AWS error body.
    func respond(to request: HTTPRequest) async -> AWSJSONAnswer {
        let requestID = self.nextRequestID()
        let target = request.header("x-amz-target") ?? ""
        guard request.method == "POST", request.uri.split(separator: "?").first == "/" else {
            return .error(
                requestID: requestID, status: .notFound, code: "UnknownOperationException",
                message: "POST / with an X-Amz-Target header is the only request served here")
        }
        guard target.hasPrefix("TrentService."),
            let operation = KMSMethod.awsJSON[String(target.dropFirst("TrentService.".count))]
        else {
            return .error(
                requestID: requestID, status: .badRequest, code: "UnknownOperationException",
                message: "Unknown operation \(target.prefix(128))")
        }
        let payload: [UInt8]
        do {
            payload = try operation.requestFromJSON(Data(request.body))
        } catch let error as AWSJSON.DecodingError where error.isValidation {
            // As kmsd answers it: a value outside its enum breaks the model, the body is readable.
            return .error(
                requestID: requestID, status: .badRequest, code: "ValidationException", message: error.description)
        } catch {
            return .error(
                requestID: requestID, status: .badRequest, code: "SerializationException", message: "\(error)")
        }
        do {
            let answer: [UInt8]
            switch operation.name {
            case "Decrypt" where self.decrypts != nil:
                answer = try await self.decrypt(payload)
            case "GenerateDataKey" where self.dataKeys != nil:
                answer = try await self.generateDataKey(
                    payload, plaintextBytes: request.header(Self.plaintextBytesHeader).flatMap { Int($0) })
            default:
                answer = try await self.forward(operation.name, payload)
            }
            return AWSJSONAnswer(status: .ok, requestID: requestID, body: try operation.responseToJSON(answer))
        } catch let error as KMSClientError {
            return Self.answer(error, requestID: requestID)
        } catch let error as CallTimedOut {
            return .error(
                requestID: requestID, status: .serviceUnavailable, code: "DependencyTimeoutException",
                message: "kms-agent: \(error)")
        } catch {
            return .error(
                requestID: requestID, status: .internalServerError, code: "KMSInternalException",
                message: "kms-agent: \(error)")
        }
    }

    /// kmsd's error as AWS would answer it; the agent's own failures to reach kmsd as a
    /// retryable DependencyTimeoutException (503), which SDKs retry.
    static func answer(_ error: KMSClientError, requestID: String) -> AWSJSONAnswer {
        switch error.code {
        case "ConnectionFailedException", "ConnectionClosedException", "RequestTimeoutException", "CancellationError":
            return .error(
                requestID: requestID, status: .serviceUnavailable, code: "DependencyTimeoutException",
                message: "kms-agent cannot reach kmsd: \(error.message)")
        default:
            return .error(
                requestID: requestID, status: AWSJSONAnswer.status(forCode: error.code), code: error.code,
                message: error.message)
        }
    }

    private func forward(_ name: String, _ payload: [UInt8]) async throws -> [UInt8] {
        let client = self.clients.client()
        do {
            let answer = try await withTimeout(self.timeout, name) {
                try await client.call(method: name, payload: payload)
            }
            self.counters.forwarded.add(1, ordering: .relaxed)
            return answer
        } catch {
            self.counters.failed.add(1, ordering: .relaxed)
            throw error
        }
    }

    /// Decrypt through the cache: a dry run or a request for a Nitro enclave is never cached.
    private func decrypt(_ payload: [UInt8]) async throws -> [UInt8] {
        guard let cache = self.decrypts, let request = try? KMSDecryptRequest(serializedBytes: payload),
            !request.dryRun, !request.hasRecipient
        else { return try await self.forward("Decrypt", payload) }
        let key = try Self.digest("Decrypt", request)
        if let cached = cache.value(for: key) {
            self.counters.decryptHits.add(1, ordering: .relaxed)
            return cached
        }
        self.counters.decryptMisses.add(1, ordering: .relaxed)
        let answer = try await self.forward("Decrypt", payload)
        cache.insert(answer, for: key)
        return answer
    }

    /// GenerateDataKey through the cache of reused data keys (the AWS Encryption SDK's caching
    /// materials manager's bounds: age, messages, bytes).
    private func generateDataKey(_ payload: [UInt8], plaintextBytes: Int?) async throws -> [UInt8] {
        let maxBytes = self.caches.dataKeyMaxBytes
        guard let cache = self.dataKeys, let request = try? KMSGenerateDataKeyRequest(serializedBytes: payload),
            !request.dryRun, !request.hasRecipient,
            // With a byte bound, a caller that does not say how much it encrypts gets a fresh key.
            maxBytes == nil || (plaintextBytes ?? -1) >= 0
        else { return try await self.forward("GenerateDataKey", payload) }
        let bytes = plaintextBytes ?? 0
        let maxMessages = self.caches.dataKeyMaxMessages
        let key = try Self.digest("GenerateDataKey", request)
        let reused = cache.value(for: key) { entry in
            guard entry.messages < maxMessages, entry.bytes + bytes <= (maxBytes ?? Int.max) else { return false }
            entry.messages += 1
            entry.bytes += bytes
            return true
        }
        if let reused {
            self.counters.dataKeyHits.add(1, ordering: .relaxed)
            return reused.answer
        }
        self.counters.dataKeyMisses.add(1, ordering: .relaxed)
        let answer = try await self.forward("GenerateDataKey", payload)
        if bytes <= (maxBytes ?? Int.max) {
            cache.insert(DataKey(answer: answer, messages: 1, bytes: bytes), for: key)
        }
        return answer
    }

    /// The cache key: the operation and its whole request, serialized deterministically (map
    /// entries in order), so that every member that changes the answer tells entries apart.
    static func digest(_ operation: String, _ request: some SwiftProtobuf.Message) throws -> SHA256Digest {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: [UInt8] = try request.serializedBytes(options: options)
        var hash = SHA256()
        hash.update(data: Array(operation.utf8) + [0])
        hash.update(data: bytes)
        return hash.finalize()
    }

    /// The counters and cache sizes in Prometheus' text format.
    public func metricsText() -> String {
        let c = self.counters
        var lines = [
            "# TYPE kms_agent_cache_hits_total counter",
            "kms_agent_cache_hits_total{cache=\"decrypt\"} \(c.decryptHits.load(ordering: .relaxed))",
            "kms_agent_cache_hits_total{cache=\"data_key\"} \(c.dataKeyHits.load(ordering: .relaxed))",
            "# TYPE kms_agent_cache_misses_total counter",
            "kms_agent_cache_misses_total{cache=\"decrypt\"} \(c.decryptMisses.load(ordering: .relaxed))",
            "kms_agent_cache_misses_total{cache=\"data_key\"} \(c.dataKeyMisses.load(ordering: .relaxed))",
            "# TYPE kms_agent_cache_entries gauge",
            "kms_agent_cache_entries{cache=\"decrypt\"} \(self.decrypts?.count ?? 0)",
            "kms_agent_cache_entries{cache=\"data_key\"} \(self.dataKeys?.count ?? 0)",
            "# TYPE kms_agent_forwarded_total counter",
            "kms_agent_forwarded_total \(c.forwarded.load(ordering: .relaxed))",
            "# TYPE kms_agent_forward_failures_total counter",
            "kms_agent_forward_failures_total \(c.failed.load(ordering: .relaxed))",
        ]
        lines.append("")
        return lines.joined(separator: "\n")
    }

    /// Whether kmsd answers the agent's identity now (GetCallerIdentity, within the timeout).
    public func kmsdAnswers() async -> (ok: Bool, reason: String) {
        let client = self.clients.client()
        do {
            let identity = try await withTimeout(self.timeout, "GetCallerIdentity") {
                try await client.callerIdentity()
            }
            return (true, identity.arn)
        } catch {
            return (false, PluginError.describe(error))
        }
    }
}
