import Foundation
import KMSCrypto
import KMSCryptoWorker
import KMSDomain
import KMSRPC
import KMSServer
import SwiftProtobuf
import Synchronization

/// kms-cryptod without the process: a `CryptoWorker` in this process, called through the same
/// handler table kms-cryptod serves, so that tests of kmsd's operations need no socket.
///
/// A call goes the way it goes over the socket, less the link: the request is serialized, run by
/// the handler registered for the method's name, and the response decoded; a failure is turned
/// into an `RPCError` by the table's error mapping (as kms-cryptod answers it) and back into a
/// `KMSError` by `WorkerPool.map` (as kmsd reads the answer). A caller gets the same KMSError
/// it would get from kms-cryptod. What the link adds is left out: no timeouts, retries, frame
/// size limits or metrics.
public final class InProcessCryptoBackend: CryptoBackend {
    /// The worker the calls run on: for a test to reload its keyring, say.
    public let worker: CryptoWorker
    private let table: RPCHandlerTable
    private let connection = RPCConnectionInfo(id: 0, remoteAddress: nil)
    private let nextRequestID = Atomic<UInt64>(0)

    /// A backend over `worker`.
    public init(worker: CryptoWorker) {
        self.worker = worker
        self.table = worker.handlerTable()
    }

    /// A backend over a new worker with `keyring` (by default one fresh root key); one thread
    /// for RSA work, which is enough for tests.
    public convenience init(keyring: RootKeyring = RootKeyring(keys: [.generate()])) {
        self.init(worker: CryptoWorker(keyring: keyring, heavyThreads: 1))
    }

    /// Runs `method` through the worker's handler table; fails as a `WorkerPool` call would.
    public func call<Request, Response>(_ method: RPCMethod<Request, Response>, _ request: Request)
        async throws(KMSError) -> Response
    {
        // kms-cryptod answers a method it does not serve with UnknownOperationException.
        guard let handler = self.table.handler(for: method.name) else {
            throw WorkerPool.map(.unknownOperation(method.name))
        }
        let payload: Data
        do {
            payload = try request.serializedBytes()
        } catch {
            // WorkerPool.call's answer to any failure that is not the worker's.
            throw KMSError(.dependencyTimeout, "the crypto worker is unavailable; retry later", retryable: true)
        }
        let id = self.nextRequestID.wrappingAdd(1, ordering: .relaxed).newValue
        let context = RPCRequestContext(method: method.name, requestID: id, connection: self.connection)
        let answer: Data
        do {
            answer = try await handler(payload, context)
        } catch {
            if Task.isCancelled {
                // Over the socket, a cancelled caller stops waiting, whatever the worker does.
                throw KMSError(.dependencyTimeout, "the crypto worker call was cancelled", retryable: true)
            }
            throw WorkerPool.map(self.table.mapError(error))
        }
        do {
            return try Response(serializedBytes: answer)
        } catch {
            throw WorkerPool.map(
                .serialization("the \(method.name) response is not a valid \(Response.protoMessageName)"))
        }
    }

    /// Stops the worker's threads; call it when the test is done with the backend.
    public func shutdown() async {
        await self.worker.shutdown()
    }
}
