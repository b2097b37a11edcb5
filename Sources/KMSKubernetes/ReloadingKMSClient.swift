import Foundation
import KMSClient
import Logging
import Synchronization

/// A KMSClient made from files (an access key in a shared credentials file; a client
/// certificate, its key and a CA bundle) and made again when they change: Kubernetes updates a
/// mounted Secret by swapping a symlink, SPIRE and cert-manager rewrite certificates before they
/// expire, and a sidecar must not need a restart for either. The files are looked at by the call
/// that needs a client, at most once per `checkInterval` (a stat each); the old client is closed
/// once the calls on it had time to finish. A file that does not load keeps the current client.
public final class ReloadingKMSClient: Sendable {
    /// Where kmsd is and how to authenticate: the `kms` CLI's settings, from files only.
    public struct Source: Sendable {
        /// "host:port", "tls://host:port".
        public var endpoint: String
        /// An AWS shared credentials file holding the access key (mounted from a Secret).
        public var credentialsFile: String?
        /// Its profile; nil: "default".
        public var profile: String?
        /// PEM CAs to trust over TLS; nil: the system's.
        public var caBundle: String?
        /// A client certificate and its key, for mutual TLS (a SPIFFE SVID, say).
        public var clientCertificate: String?
        /// The client certificate's private key (PEM).
        public var clientKey: String?
        /// Connections, timeouts and retries.
        public var configuration: KMSClient.Configuration

        /// A source for `endpoint`; set the files that apply.
        public init(endpoint: String, configuration: KMSClient.Configuration = .init()) {
            self.endpoint = endpoint
            self.configuration = configuration
        }

        var files: [String] {
            [self.credentialsFile, self.caBundle, self.clientCertificate, self.clientKey].compactMap { $0 }
        }

        /// A client from the files as they are now.
        func makeClient() throws -> KMSClient {
            var environment: [String: String] = [:]
            if let file = self.credentialsFile { environment["AWS_SHARED_CREDENTIALS_FILE"] = file }
            // Only what is given here: no access key from the process's environment or ~/.aws.
            environment["HOME"] = "/nonexistent"
            let settings = KMSClientEnvironment(
                endpoint: self.endpoint, profile: self.credentialsFile == nil ? nil : (self.profile ?? "default"),
                caBundle: self.caBundle, clientCertificate: self.clientCertificate, clientKey: self.clientKey)
            let (endpoint, configuration) = try settings.resolve(self.configuration, environment: environment)
            guard configuration.credentials != nil || self.clientCertificate != nil else {
                throw KMSClientError(
                    code: "ValidationException",
                    message: "no credentials: give an access key in a credentials file or a client certificate",
                    retryable: false)
            }
            return try KMSClient(endpoint: endpoint, configuration: configuration)
        }
    }

    struct State {
        var client: KMSClient
        var stamps: [FileStamp?]
        var checkedAt: ContinuousClock.Instant
    }

    let source: Source
    let checkInterval: Duration
    let retiredAfter: Duration
    let logger: Logger
    private let state: Mutex<State>

    /// Fails when the files do not make a client now (missing, unreadable, no credentials).
    public init(
        _ source: Source, checkInterval: Duration = .seconds(1), retiredAfter: Duration = .seconds(30), logger: Logger
    ) throws {
        self.source = source
        self.checkInterval = checkInterval
        self.retiredAfter = retiredAfter
        self.logger = logger
        let stamps = source.files.map(FileStamp.init(path:))
        self.state = Mutex(State(client: try source.makeClient(), stamps: stamps, checkedAt: .now))
    }

    /// The client to call with: a new one if the files changed since the last.
    public func client() -> KMSClient {
        let now = ContinuousClock.now
        let (current, due) = self.state.withLock { state -> (KMSClient, Bool) in
            guard now - state.checkedAt >= self.checkInterval else { return (state.client, false) }
            state.checkedAt = now
            return (state.client, true)
        }
        guard due else { return current }
        let stamps = self.source.files.map(FileStamp.init(path:))
        guard stamps != self.state.withLock({ $0.stamps }) else { return current }
        do {
            let fresh = try self.source.makeClient()
            let retired = self.state.withLock { state -> KMSClient in
                defer {
                    state.client = fresh
                    state.stamps = stamps
                }
                return state.client
            }
            self.logger.notice("the credential files changed: new connections to kmsd use them")
            let wait = self.retiredAfter
            Task {
                try? await Task.sleep(for: wait)
                await retired.close()
            }
            return fresh
        } catch {
            // Half-written or wrong: keep what works, and look again after the interval.
            self.logger.warning(
                "the credential files changed but do not load; keeping the current credentials",
                metadata: ["error": "\(error)"])
            return current
        }
    }

    /// Closes the current client.
    public func close() async {
        await self.state.withLock { $0.client }.close()
    }
}

/// What changes when a file is replaced or rewritten: its device and inode (a new file behind
/// the symlink), size and modification time. Nil: the file is not there.
struct FileStamp: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var seconds: Int
    var nanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
        self.size = Int64(info.st_size)
        self.seconds = Int(info.st_mtim.tv_sec)
        self.nanoseconds = Int(info.st_mtim.tv_nsec)
    }
}
