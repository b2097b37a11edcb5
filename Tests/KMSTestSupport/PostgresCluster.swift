import Foundation

/// A PostgreSQL cluster of one test's own, in a temporary folder on a free loopback port, for
/// tests that stop the database under kmsd (`pg_ctl stop -m immediate`) without harming the
/// other tests' shared server. Durable as a real one: fsync and synchronous commit are on.
///
/// It uses the PostgreSQL that `scripts/test` runs (its binaries, found as `scripts/kms-local`
/// finds them); as root, the server runs as Debian's `postgres` user, since PostgreSQL refuses
/// to run as root.
public final class PostgresCluster: Sendable {
    public let directory: URL
    public let port: Int
    let binaries: URL
    /// Server settings besides the defaults, as `-c` options (e.g. `wal_level=logical`).
    let settings: [String]

    /// The admin database's URL (trust authentication on loopback, user kms).
    public var adminURL: String { "postgres://kms@127.0.0.1:\(self.port)/postgres" }

    /// Runs initdb and starts the server, with `settings` (NAME=VALUE) besides the defaults.
    public static func create(settings: [String] = []) async throws -> PostgresCluster {
        guard let binaries = Self.findBinaries() else {
            throw WorkerTestError("no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or PG_BIN")
        }
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("kmspg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            guard let user = getpwnam("postgres") else {
                throw WorkerTestError("running as root, but there is no postgres user to run PostgreSQL as")
            }
            chown(directory.path, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        let cluster = PostgresCluster(
            directory: directory, port: try freePort(), binaries: binaries, settings: settings)
        let initdb = try await cluster.run(
            "initdb",
            [
                "-D", cluster.dataPath, "-U", "kms", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
            ])
        guard initdb.status == 0 else { throw WorkerTestError("initdb failed: \(initdb.output)") }
        try await cluster.start()
        return cluster
    }

    init(directory: URL, port: Int, binaries: URL, settings: [String] = []) {
        self.directory = directory
        self.port = port
        self.binaries = binaries
        self.settings = settings
    }

    var dataPath: String { self.directory.appendingPathComponent("data").path }

    /// Starts the server and waits until it accepts connections.
    public func start() async throws {
        let options =
            "-p \(self.port) -k \(self.directory.path) -c listen_addresses=127.0.0.1 -c max_connections=60 -c "
            + "shared_buffers=16MB" + self.settings.map { " -c \($0)" }.joined()
        let result = try await self.run(
            "pg_ctl",
            [
                "-D", self.dataPath, "-l", self.directory.appendingPathComponent("log").path, "-o", options, "-w", "-t",
                "60", "start",
            ])
        guard result.status == 0 else {
            throw WorkerTestError("pg_ctl start failed: \(result.output) \(self.log.suffix(2000))")
        }
    }

    /// Stops the server: `immediate` is a crash (no checkpoint, every backend killed; recovery
    /// replays the WAL on the next start), otherwise a fast clean shutdown.
    public func stop(immediate: Bool) async throws {
        let result = try await self.run(
            "pg_ctl", ["-D", self.dataPath, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60", "stop"])
        guard result.status == 0 else { throw WorkerTestError("pg_ctl stop failed: \(result.output)") }
    }

    /// Stops the server and removes its folder.
    public func destroy() async {
        _ = try? await self.run("pg_ctl", ["-D", self.dataPath, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// The server's log so far.
    public var log: String {
        (try? String(contentsOf: self.directory.appendingPathComponent("log"), encoding: .utf8)) ?? ""
    }

    /// Runs a PostgreSQL tool to completion, its output kept in a file: pg_ctl leaves the server
    /// running, and an output pipe that a server started by it might hold open would never end.
    /// Spawned and waited for directly: Foundation's Process did not notice runuser's exit
    /// after pg_ctl started the server (runuser stayed a zombie and waitUntilExit never returned).
    private func run(_ tool: String, _ arguments: [String]) async throws -> ToolResult {
        let path = self.binaries.appendingPathComponent(tool).path
        let output = self.directory.appendingPathComponent("\(tool).out").path
        let command: [String]
        var environment = ["PATH=/usr/bin:/bin", "HOME=\(self.directory.path)", "LC_ALL=C"]
        if getuid() == 0 {
            // As root: as the postgres user, from a folder it may enter.
            command = ["/usr/sbin/runuser", "-u", "postgres", "--", path] + arguments
        } else {
            command = [path] + arguments
            environment += ProcessInfo.processInfo.environment.filter { $0.key != "PATH" && $0.key != "HOME" }.map {
                "\($0.key)=\($0.value)"
            }
        }
        let finalEnvironment = environment
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    let status = try spawnAndWait(command, environment: finalEnvironment, outputPath: output)
                    let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                    continuation.resume(returning: ToolResult(status: status, output: text))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    struct ToolResult {
        let status: Int32
        let output: String
    }

    static func findBinaries() -> URL? {
        let manager = FileManager.default
        if let given = ProcessInfo.processInfo.environment["PG_BIN"],
            manager.isExecutableFile(atPath: given + "/pg_ctl")
        {
            return URL(fileURLWithPath: given)
        }
        let versions = ((try? manager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init)
            .sorted()
        for version in versions.reversed() {
            let bin = "/usr/lib/postgresql/\(version)/bin"
            if manager.isExecutableFile(atPath: bin + "/initdb"), manager.isExecutableFile(atPath: bin + "/pg_ctl") {
                return URL(fileURLWithPath: bin)
            }
        }
        return nil
    }
}

/// A loopback port free at the time of asking.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw WorkerTestError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
        }
    }
    guard bound else { throw WorkerTestError("could not find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs `command` with its standard output and error in the file at `outputPath` (created or
/// truncated), standard input from /dev/null, and waits for it; its exit status.
func spawnAndWait(_ command: [String], environment: [String], outputPath: String) throws -> Int32 {
    let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard output >= 0 else { throw WorkerTestError("cannot open \(outputPath)") }
    defer { close(output) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, output, 1)
    posix_spawn_file_actions_adddup2(&actions, output, 2)
    let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }
    var pid = pid_t()
    let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, envp)
    guard spawned == 0 else { throw WorkerTestError("cannot run \(command[0]): error \(spawned)") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 {
        guard errno == EINTR else { throw WorkerTestError("waitpid failed for \(command[0])") }
    }
    // WIFEXITED / WEXITSTATUS, which Swift does not import.
    return status & 0x7F == 0 ? (status >> 8) & 0xFF : -1
}
