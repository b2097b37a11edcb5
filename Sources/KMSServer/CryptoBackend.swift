import KMSDomain
import KMSRPC

/// What kmsd asks of key material: everything it needs done with keys (generate, wrap, encrypt,
/// sign, check an access key's proof, MAC an audit checkpoint) goes through this one call, with
/// the kmsd ↔ kms-cryptod methods (`WorkerMethod`). kmsd itself never holds key material.
///
/// `WorkerPool` implements it over kms-cryptod's socket; tests implement it in-process with the
/// worker's own handlers. Either way a failure is the `KMSError` the caller would get over the
/// socket: the AWS exception kms-cryptod answered, or a retryable DependencyTimeoutException when
/// the worker or the link to it failed.
public protocol CryptoBackend: Sendable {
    /// Runs `method` on `request` and returns its response.
    func call<Request, Response>(_ method: RPCMethod<Request, Response>, _ request: Request)
        async throws(KMSError) -> Response
}

extension WorkerPool: CryptoBackend {}
