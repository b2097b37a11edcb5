import Foundation
import KMSProto
import KMSXKS
import Logging
import Synchronization

/// The XKS proxy API over `XKSProxyBackend`: route, authenticate, decode, check, map the key,
/// call kmsd, answer; and one structured log line per call (who, which key, which operation,
/// the caller's request metadata, the outcome), never a plaintext, ciphertext or AAD.
public final class XKSProxyService: Sendable {
    /// An answer: the HTTP status and the JSON body.
    public struct Answer: Sendable {
        /// 200, or the XKS error's status (405 for a GET).
        public var status: Int
        /// JSON.
        public var body: [UInt8]
    }

    /// What a reload replaces, at once: a request sees the old state or the new one, never a mix.
    struct State: Sendable {
        let configuration: XKSProxyConfiguration
        let authenticator: XKSProxyAuthenticator
        let health: XKSHealthCheck
    }

    private let state: Mutex<State>
    let backend: XKSProxyBackend
    let logger: Logger
    let now: @Sendable () -> Date

    /// The configuration requests are served with now (the last one loaded).
    public var configuration: XKSProxyConfiguration { self.state.withLock { $0.configuration } }
    var current: State { self.state.withLock { $0 } }
    /// What GetHealthStatus reports as the proxy's model.
    public static let model = "kms-xks-proxy 1.0 (Swift KMS)"

    /// A service for `configuration` over `backend`.
    public init(
        configuration: XKSProxyConfiguration, backend: XKSProxyBackend, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.state = Mutex(Self.state(configuration, now: now))
        self.backend = backend
        self.logger = logger
        self.now = now
    }

    static func state(_ configuration: XKSProxyConfiguration, now: @escaping @Sendable () -> Date) -> State {
        State(
            configuration: configuration,
            authenticator: XKSProxyAuthenticator(
                credentials: configuration.credentials, regions: configuration.regions ?? [], now: now),
            health: XKSHealthCheck(cacheFor: .seconds(configuration.healthCheckCacheSeconds ?? 5)))
    }

    /// Serves `configuration` from the next request on (its `tls` only takes effect at a restart).
    public func replace(_ configuration: XKSProxyConfiguration) {
        let state = Self.state(configuration, now: self.now)
        self.state.withLock { $0 = state }
    }

    /// What the call says about itself, for the log line.
    struct Call {
        var operation = "unknown"
        var accessKeyID: String?
        var xksKeyID: String?
        var metadata: XKSRequestMetadata?
    }

    /// Answers one request; never throws: every failure is an XKS error body.
    public func handle(_ request: XKSProxyRequest) async -> Answer {
        var call = Call()
        let started = ContinuousClock.now
        let answer: Answer
        do {
            answer = try await self.serve(request, call: &call)
        } catch {
            answer = Answer(status: error.httpStatus, body: Self.json(error.body))
            self.log(call, outcome: error.rawName, status: error.httpStatus, started: started)
            return answer
        }
        self.log(call, outcome: "ok", status: answer.status, started: started)
        return answer
    }

    private func serve(_ request: XKSProxyRequest, call: inout Call) async throws(XKSError) -> Answer {
        // Sizes first (the HTTP handler stops reading past the limit; this holds for any caller).
        guard request.body.count <= XKSLimits.maxRequestBodyBytes else {
            throw XKSError(.validation, "The request body is larger than this proxy accepts.")
        }
        let state = self.current
        let route = try Self.route(request, uriPath: state.configuration.uriPath)
        call.operation = route.operation.rawValue
        call.xksKeyID = route.keyID
        call.accessKeyID = try state.authenticator.authenticate(request)
        let body = Data(request.body)
        switch route.operation {
        case .getHealthStatus:
            let decoded = try Self.decode(XKSGetHealthStatusRequest.self, body)
            call.metadata = decoded.requestMetadata
            try decoded.requestMetadata.validate(for: .getHealthStatus)
            return Self.ok(await self.health(state))
        case .getKeyMetadata:
            let decoded = try Self.decode(XKSGetKeyMetadataRequest.self, body)
            call.metadata = decoded.requestMetadata
            try decoded.requestMetadata.validate(for: .getKeyMetadata)
            let key = try Self.key(route.keyID, state.configuration)
            return Self.ok(
                try await self.backend.getKeyMetadata(
                    key: key, metadata: Self.metadata(decoded.requestMetadata, accessKeyID: call.accessKeyID)))
        case .encrypt:
            let decoded = try Self.decode(XKSEncryptRequest.self, body)
            call.metadata = decoded.requestMetadata
            try decoded.validate()
            let key = try Self.key(route.keyID, state.configuration)
            return Self.ok(
                try await self.backend.encrypt(
                    key: key, decoded, metadata: Self.metadata(decoded.requestMetadata, accessKeyID: call.accessKeyID)))
        case .decrypt:
            let decoded = try Self.decode(XKSDecryptRequest.self, body)
            call.metadata = decoded.requestMetadata
            try decoded.validate()
            let key = try Self.key(route.keyID, state.configuration)
            return Self.ok(
                try await self.backend.decrypt(
                    key: key, decoded, metadata: Self.metadata(decoded.requestMetadata, accessKeyID: call.accessKeyID)))
        }
    }

    // MARK: - Routing

    struct Route {
        let operation: XKSOperation
        let keyID: String?
    }

    /// `<uriPath>/health` or `<uriPath>/keys/<id>/<metadata|encrypt|decrypt>`, POST only.
    static func route(_ request: XKSProxyRequest, uriPath base: String) throws(XKSError) -> Route {
        let path = request.path
        guard path.hasPrefix(base + "/") else {
            throw XKSError(.invalidUriPath, "The URI path is not one this proxy serves.")
        }
        let rest = path.dropFirst(base.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        let route: Route
        if rest == ["health"] {
            route = Route(operation: .getHealthStatus, keyID: nil)
        } else if rest.count == 3, rest[0] == "keys",
            let operation = XKSOperation.allCases.first(where: {
                $0 != .getHealthStatus && $0.pathSuffix == rest[2]
            })
        {
            route = Route(operation: operation, keyID: String(rest[1]))
        } else {
            throw XKSError(.invalidUriPath, "The URI path is not one of the XKS API's.")
        }
        guard request.method == "POST" else {
            throw XKSError(rawName: "MethodNotAllowed", message: "Only POST is allowed.", httpStatus: 405)
        }
        return route
    }

    /// Our key for an XKS key id: KeyNotFoundException for one the mapping does not expose.
    static func key(_ xksKeyID: String?, _ configuration: XKSProxyConfiguration) throws(XKSError) -> String {
        guard let xksKeyID, XKSLimits.isValidKeyID(xksKeyID) else {
            throw XKSError(.validation, "The external key id must be 1 to 128 of A-Z a-z 0-9 - . _.")
        }
        guard let key = configuration.keyReference(for: xksKeyID) else {
            throw XKSError(.keyNotFound, "No external key '\(xksKeyID)' here.")
        }
        return key
    }

    // MARK: - Health

    func health(_ state: State) async -> XKSGetHealthStatusResponse {
        let target = state.configuration.healthCheckTarget
        let backend = self.backend
        let logger = self.logger
        let status = await state.health.status {
            await backend.health(key: target, logger: logger)
        }
        return XKSGetHealthStatusResponse(
            xksProxyFleetSize: state.configuration.fleetSize ?? 1, xksProxyVendor: "Swift KMS",
            xksProxyModel: Self.model, ekmVendor: "Swift KMS",
            ekmFleetDetails: [
                .init(id: "kmsd", model: "kmsd + kms-cryptod", healthStatus: status.rawValue)
            ])
    }

    // MARK: - Bodies

    static func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws(XKSError) -> T {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw XKSError(.validation, "The request body is not valid: \(XKSClient.describe(error)).")
        }
    }

    static func ok(_ value: some Encodable) -> Answer { Answer(status: 200, body: json(value)) }

    static func json(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(value))) ?? Array(#"{"errorName":"InternalException"}"#.utf8)
    }

    static func metadata(_ xks: XKSRequestMetadata, accessKeyID: String?) -> XKSBackendXksRequestMetadata {
        var metadata = XKSBackendXksRequestMetadata()
        metadata.awsPrincipalArn = xks.awsPrincipalArn ?? ""
        metadata.kmsKeyArn = xks.kmsKeyArn ?? ""
        metadata.kmsOperation = xks.kmsOperation
        metadata.kmsRequestID = xks.kmsRequestId
        metadata.kmsViaService = xks.kmsViaService ?? ""
        metadata.awsSourceVpc = xks.awsSourceVpc ?? ""
        metadata.awsSourceVpce = xks.awsSourceVpce ?? ""
        metadata.xksAccessKeyID = accessKeyID ?? ""
        return metadata
    }

    // MARK: - The log line

    private func log(_ call: Call, outcome: String, status: Int, started: ContinuousClock.Instant) {
        var metadata: Logger.Metadata = [
            "operation": "\(call.operation)", "outcome": "\(outcome)", "status": "\(status)",
            "accessKeyId": "\(call.accessKeyID ?? "-")", "xksKeyId": "\(Self.short(call.xksKeyID ?? "-"))",
            "elapsed": "\(ContinuousClock.now - started)",
        ]
        if let request = call.metadata {
            metadata["awsPrincipalArn"] = "\(Self.short(request.awsPrincipalArn ?? "-"))"
            metadata["kmsOperation"] = "\(Self.short(request.kmsOperation))"
            metadata["kmsRequestId"] = "\(Self.short(request.kmsRequestId))"
            if let key = request.kmsKeyArn { metadata["kmsKeyArn"] = "\(Self.short(key))" }
        }
        self.logger.info("xks call", metadata: metadata)
    }

    /// Caller-chosen text in a log line: bounded, printable ASCII.
    static func short(_ text: String) -> String { XKSLimits.errorMessage(String(text.prefix(256))) }
}
