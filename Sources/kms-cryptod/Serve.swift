import ArgumentParser
import Dispatch
import Foundation
import KMSCrypto
import KMSCryptoWorker
import KMSRPC
import Logging
import NIOCore
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve kmsd on a Unix socket (mode 0600, same-uid peers only) until SIGTERM or SIGINT."
    )

    @OptionGroup var keyring: KeyringOption

    @Option(help: "Path of the Unix socket to listen on (KMS_CRYPTOD_SOCKET).")
    var socket: String?

    @Option(
        help: ArgumentHelp(
            "The root key id new material is wrapped under (default: the keyring's newest). Pin the old one "
                + "while a new root key reaches every kms-cryptod (README, \"kms-cryptod\"). Empty: the newest "
                + "(KMS_CRYPTOD_ACTIVE_ROOT_KEY)."))
    var activeRootKey: String?

    @Option(
        help: ArgumentHelp(
            "How many unwrapped key materials to keep in memory, least recently used evicted "
                + "(KMS_CRYPTOD_CACHE_SIZE). Default 10000."))
    var cacheSize: Int?

    @Option(help: "Largest frame accepted, in bytes (KMS_CRYPTOD_MAX_FRAME_LENGTH). Default 65536.")
    var maxFrameLength: Int?

    @Option(
        help: ArgumentHelp(
            "Event loop threads, where kmsd's connections are read and symmetric operations computed "
                + "(KMS_CRYPTOD_EVENT_LOOP_THREADS). Default: one per core. Fewer when kms-cryptod shares its cores "
                + "with kmsd and PostgreSQL (README, \"Processes\")."))
    var eventLoopThreads: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical (KMS_CRYPTOD_LOG_LEVEL). Default info.")
    var logLevel: String?

    @Option(
        help:
            ArgumentHelp(
                "The regions kmsd serves, comma separated: SigV4 signing keys are derived for these only (service kms, "
                    + "today +/- one day, UTC) (KMS_CRYPTOD_REGIONS). Default us-east-1.")
    )
    var regions: String?

    @Option(
        help:
            ArgumentHelp(
                "Serve GET /healthz and GET /readyz (keyring loaded, socket accepting) over HTTP on host:port, and "
                    + "nothing else (KMS_CRYPTOD_HEALTH_LISTEN). Default: not served.")
    )
    var healthListen: String?

    @Option(
        help:
            ArgumentHelp(
                "Seconds kmsd's open connections are still served after SIGTERM (the socket accepts no new ones), "
                    + "unless kmsd closes them first (KMS_CRYPTOD_SHUTDOWN_GRACE_SECONDS). Default 25.")
    )
    var shutdownGraceSeconds: Int?

    @Option(
        name: .customLong("pkcs11-module"),
        help:
            ArgumentHelp(
                "NAME=PATH: a PKCS #11 module (absolute path of the vendor's library) that AWS_CLOUDHSM custom key "
                    + "stores may name; repeat for more. Only these are ever loaded: the API names a module, never a "
                    + "path (KMS_CRYPTOD_PKCS11_MODULES, comma separated). Default: none.")
    )
    var pkcs11Modules: [String] = []

    @Option(
        name: .customLong("pkcs11-sessions"),
        help: ArgumentHelp(
            "PKCS #11 sessions per token, so token calls at once (KMS_CRYPTOD_PKCS11_SESSIONS). Default 4.")
    )
    var pkcs11Sessions: Int?

    var regionSet: Set<String> {
        Set((regions ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    /// Fills what no flag gave from `KMS_CRYPTOD_*`, then the defaults, then checks them all.
    mutating func validate() throws {
        socket = socket ?? CryptodEnvironment.string("SOCKET")
        activeRootKey = activeRootKey ?? CryptodEnvironment.string("ACTIVE_ROOT_KEY")
        cacheSize = try cacheSize ?? CryptodEnvironment.integer("CACHE_SIZE") ?? 10_000
        maxFrameLength = try maxFrameLength ?? CryptodEnvironment.integer("MAX_FRAME_LENGTH") ?? 64 * 1024
        eventLoopThreads = try eventLoopThreads ?? CryptodEnvironment.integer("EVENT_LOOP_THREADS")
        if let eventLoopThreads, !EventLoopThreads.range.contains(eventLoopThreads) {
            throw ValidationError(EventLoopThreads.invalid("--event-loop-threads (KMS_CRYPTOD_EVENT_LOOP_THREADS)"))
        }
        logLevel = logLevel ?? CryptodEnvironment.string("LOG_LEVEL") ?? "info"
        regions = regions ?? CryptodEnvironment.string("REGIONS") ?? "us-east-1"
        healthListen = healthListen ?? CryptodEnvironment.string("HEALTH_LISTEN").flatMap { $0.isEmpty ? nil : $0 }
        shutdownGraceSeconds = try shutdownGraceSeconds ?? CryptodEnvironment.integer("SHUTDOWN_GRACE_SECONDS") ?? 25
        if pkcs11Modules.isEmpty, let modules = CryptodEnvironment.string("PKCS11_MODULES") {
            pkcs11Modules = modules.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        pkcs11Sessions = try pkcs11Sessions ?? CryptodEnvironment.integer("PKCS11_SESSIONS") ?? 4
        guard (1...256).contains(pkcs11Sessions ?? 0) else { throw ValidationError("--pkcs11-sessions must be 1..256") }
        _ = try moduleAllowList()
        guard let socket, !socket.isEmpty else {
            throw ValidationError("--socket (or KMS_CRYPTOD_SOCKET) is required")
        }
        let (cacheSize, maxFrameLength, shutdownGraceSeconds) = (
            self.cacheSize ?? 0, self.maxFrameLength ?? 0, self.shutdownGraceSeconds ?? 0
        )
        let (logLevel, regions) = (self.logLevel ?? "", self.regions ?? "")
        guard cacheSize >= 0 else { throw ValidationError("--cache-size must be 0 or more") }
        guard (1024...(16 << 20)).contains(maxFrameLength) else {
            throw ValidationError("--max-frame-length must be between 1024 and 16777216")
        }
        guard (0...3600).contains(shutdownGraceSeconds) else {
            throw ValidationError("--shutdown-grace-seconds must be 0..3600")
        }
        if let healthListen, ListenAddress.split(healthListen) == nil {
            throw ValidationError("--health-listen must be host:port, not '\(healthListen)'")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown --log-level '\(logLevel)'")
        }
        let isRegion: (String) -> Bool = { name in
            (1...64).contains(name.utf8.count)
                && name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
        }
        guard !regionSet.isEmpty, regionSet.allSatisfy(isRegion) else {
            throw ValidationError("--regions must be region names (a-z, 0-9, -) separated by commas, not '\(regions)'")
        }
    }

    /// `--pkcs11-module`'s NAME=PATH pairs, checked: names of A-Z a-z 0-9 . _ -, absolute paths, no repeats.
    func moduleAllowList() throws -> PKCS11ModuleAllowList {
        var paths: [String: String] = [:]
        for entry in pkcs11Modules {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            let isName: (String) -> Bool = { name in
                (1...64).contains(name.utf8.count)
                    && name.utf8.allSatisfy {
                        (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                            || [0x2D, 0x2E, 0x5F].contains($0)
                    }
            }
            guard parts.count == 2, isName(parts[0]), parts[1].hasPrefix("/") else {
                throw ValidationError("--pkcs11-module must be NAME=/absolute/path, not '\(entry)'")
            }
            guard paths.updateValue(parts[1], forKey: parts[0]) == nil else {
                throw ValidationError("--pkcs11-module names \(parts[0]) twice")
            }
        }
        return PKCS11ModuleAllowList(paths)
    }

    func run() async throws {
        // First: NIO's group must not have been used before its size is set.
        EventLoopThreads.apply(self.eventLoopThreads)
        // validate() set every setting below from a flag, the environment or its default.
        let (socket, cacheSize, maxFrameLength) = (
            self.socket ?? "", self.cacheSize ?? 10_000, self.maxFrameLength ?? 0
        )
        let level = Logger.Level(rawValue: logLevel ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "kms-cryptod")
        // Before any root key is read: no core dumps, no same-user ptrace, no swap.
        let hardening = ProcessHardening.apply()
        for problem in hardening.problems { logger.warning("\(problem)") }

        let path = keyring.path
        // Empty is unset, so that a manifest can always pass the flag from a setting of its own.
        let pin = try activeRootKey.flatMap { $0.isEmpty ? nil : $0 }.map { text in
            do { return try RootKeyID(string: text) } catch { throw ValidationError("--active-root-key: \(error)") }
        }
        // The pin holds across SIGHUP reloads: a reloaded file without the pinned key is refused.
        let load = { @Sendable () throws -> RootKeyring in
            let ring = try RootKeyringFile.load(path: path)
            guard let pin else { return ring }
            guard let pinned = ring.pinned(to: pin) else {
                throw ValidationError("--active-root-key \(pin): the keyring \(path) holds no such root key")
            }
            return pinned
        }
        let worker = CryptoWorker(
            keyring: try load(), cacheCapacity: cacheSize,
            signingScope: SigningKeyScope(regions: regionSet),
            pkcs11Modules: try moduleAllowList(), tokenSessions: pkcs11Sessions ?? 4
        )
        var rpc = RPCConfiguration()
        rpc.maxFrameLength = maxFrameLength
        let serving: Logger.Metadata = [
            "socket": "\(socket)", "root_keys": "\(worker.rootKeyCount)",
            "active_root_key": "\(worker.activeRootKeyID)",
            "regions": "\(regionSet.sorted().joined(separator: ","))",
            "pkcs11_modules": "\(pkcs11Modules.joined(separator: ","))",
            "hardening": "\(hardening)",
        ]
        // Bound by the service, once the group below handles SIGTERM: bound before it, a SIGTERM
        // in between (a pod stopped as it starts) ended the process by default, leaving the
        // socket file behind.
        let start = { @Sendable [rpc] () async throws -> CryptoWorkerServer in
            let server = try await CryptoWorkerServer.start(
                worker: worker, socketPath: socket, configuration: rpc, logger: logger)
            logger.info("serving", metadata: serving)
            return server
        }
        // SIGHUP re-reads the keyring: a rotated or retired root key takes effect without a
        // restart (and so without a failed request). A file that does not load is refused.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP)
        hangup.setEventHandler {
            do {
                let ring = try load()
                worker.reload(ring)
                logger.notice(
                    "reloaded the root keyring",
                    metadata: ["root_keys": "\(ring.keys.count)", "active_root_key": "\(ring.active.id)"])
            } catch {
                logger.error(
                    "keeping the current root keyring: the file does not load", metadata: ["error": "\(error)"])
            }
        }
        hangup.resume()
        defer { hangup.cancel() }

        let readiness = HealthListener.readiness(worker: worker, socketPath: socket)
        var health: (any Channel)?
        if let healthListen {
            health = try await HealthListener.bind(healthListen, readiness: readiness, logger: logger)
        }
        let group = ServiceGroup(
            services: [
                WorkerService(
                    start: start, readiness: readiness, grace: .seconds(shutdownGraceSeconds ?? 25), logger: logger)
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
        try? await health?.close()
        await worker.shutdown()
        logger.info("stopped")
    }
}

/// Runs until the listener closes; a graceful shutdown closes it (not ready from then on), and
/// kmsd's open connections are then served until kmsd closes them or `grace` ends: in a pod
/// both get SIGTERM at once, and kmsd still needs the worker for its in-flight requests and
/// its last audit checkpoint.
struct WorkerService: Service {
    let start: @Sendable () async throws -> CryptoWorkerServer
    let readiness: Readiness
    let grace: Duration
    let logger: Logger

    func run() async throws {
        let server = try await self.start()
        try await withGracefulShutdownHandler {
            try await server.closeFuture.get()
        } onGracefulShutdown: {
            readiness.beginShutdown()
            server.beginShutdown()
        }
        let open = server.connections.count
        guard open > 0 else { return }
        logger.notice(
            "no longer accepting; serving the open connections until they close",
            metadata: ["connections": "\(open)", "grace": "\(grace)"])
        if !(await server.connections.waitUntilClosed(within: grace)) {
            logger.warning(
                "closing the connections still open after the grace period",
                metadata: ["connections": "\(server.connections.count)"])
            await server.connections.closeAll()
        }
    }
}
