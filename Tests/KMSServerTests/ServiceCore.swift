import Foundation
import KMSDomain
import KMSRPC
import KMSTestSupport
import Logging
import NIOCore
import SwiftProtobuf
import Testing

@testable import KMSServer

/// A `KMSService` in-process for unit tests: all ten store ports on one `InMemoryDatabase`, its
/// audit log an `InMemoryAuditLog` over the same database (each record checkpointed by the
/// in-process kms-cryptod), the real `PolicyGate`, and requests sent through the service's own
/// handler table, so a request goes the way kmsd serves it: caller from its identity, limits,
/// the audit log's door, the operation, its record.
struct ServiceCore {
    static let scope = ServiceScope(
        regions: [ServiceCoreTests.region], defaultRegion: ServiceCoreTests.region,
        defaultAccount: ServiceCoreTests.account)

    let service: KMSService
    let database: InMemoryDatabase
    let log: InMemoryAuditLog
    let table: RPCHandlerTable

    /// Runs `body` on a fresh service; the worker is shut down after it, whatever it did. No
    /// bound of the service's waits applies (`ServiceTimeouts.unbounded`, and a request timeout of
    /// an hour): beside the other suites' processes on two cores, a call can wait seconds for a
    /// thread, and these tests are about what the service does, not how fast.
    /// `worker` wraps the in-process kms-cryptod the service calls (a test that holds a call).
    static func with(
        worker wrap: (any CryptoBackend) -> any CryptoBackend = { $0 }, _ body: (ServiceCore) async throws -> Void
    ) async throws {
        try await ServiceTimeouts.$current.withValue(.unbounded) { try await Self.unbounded(wrap, body) }
    }

    private static func unbounded(
        _ wrap: (any CryptoBackend) -> any CryptoBackend, _ body: (ServiceCore) async throws -> Void
    ) async throws {
        let logger = Logger(label: "service-core", factory: { _ in SwiftLogNoOpLogHandler() })
        let database = InMemoryDatabase()
        let cache = KeyCache()
        let worker = InProcessCryptoBackend()
        let log = InMemoryAuditLog(database: database, worker: worker)
        let service = KMSService(
            scope: Self.scope, stores: database.stores, cache: cache, worker: wrap(worker),
            gate: PolicyGate(scope: Self.scope, identities: database, cache: cache, logger: logger), logger: logger,
            auditLog: log, requestTimeout: .seconds(3600))
        let core = ServiceCore(service: service, database: database, log: log, table: service.handlerTable())
        do {
            try await body(core)
        } catch {
            await worker.shutdown()
            throw error
        }
        await worker.shutdown()
    }

    /// Sends `request` through the handler table on a connection authenticated as `identity`
    /// (nil: none), from 10.1.2.3; throws what the handler throws (a KMSError).
    func call<Request, Response>(
        _ method: RPCMethod<Request, Response>, _ request: Request, as identity: RPCIdentity?
    ) async throws -> Response {
        let handler = try #require(self.table.handler(for: method.name))
        let connection = RPCConnectionInfo(
            id: 1, remoteAddress: try SocketAddress(ipAddress: "10.1.2.3", port: 40_000), identity: identity)
        let answer = try await handler(
            try request.serializedBytes(), RPCRequestContext(method: method.name, requestID: 1, connection: connection))
        return try Response(serializedBytes: answer)
    }
}
