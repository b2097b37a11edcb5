import Foundation
import Synchronization

/// A network namespace joined to the host by a veth pair: a host of its own on this machine,
/// reached from the test at `address` and reaching the test's listeners at `hostAddress` (a /30
/// of 10.214.0.0/16 chosen per run). Needs root and iproute2's `ip`.
///
/// Its name holds the test process's id, so a run that died before `remove()` leaves nothing
/// for long: the next run's `removeStale()` deletes namespaces whose process is gone (the veth
/// pair goes with its namespace).
public final class NetworkNamespace: Sendable {
    /// The namespace's name (`ip netns`): `kmsrep-<pid>-<n>`.
    public let name: String
    /// The veth end in the host namespace.
    public let hostInterface: String
    /// The host end's address: where processes in the namespace reach the test's listeners.
    public let hostAddress: String
    /// The namespace end's address: where the test reaches the namespace's listeners.
    public let address: String

    static let prefix = "kmsrep-"
    private static let created = Mutex(0)

    init(name: String, hostInterface: String, hostAddress: String, address: String) {
        self.name = name
        self.hostInterface = hostInterface
        self.hostAddress = hostAddress
        self.address = address
    }

    /// The `ip` binary, or nil when iproute2 is not installed.
    public static var ipPath: String? {
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// The command prefix that runs a program inside this namespace (`ip netns exec NAME`,
    /// which execs it: the process started is the program itself, so its pid is the program's).
    public var launcher: [String] { [Self.ipPath ?? "ip", "netns", "exec", self.name] }

    /// Why namespaces cannot be made here (not root, no `ip`, or the kernel refuses), or nil.
    /// Makes and deletes a namespace to find out.
    public static func unavailableReason() async -> String? {
        guard getuid() == 0 else { return "not running as root (ip netns needs it)" }
        guard Self.ipPath != nil else { return "iproute2's ip is not installed" }
        let probe = "\(Self.prefix)probe-\(getpid())"
        do {
            try await Self.ip(["netns", "add", probe])
        } catch {
            return "ip netns add failed: \(error)"
        }
        _ = try? await Self.ip(["netns", "del", probe])
        return nil
    }

    /// Creates a namespace with its loopback up and a veth pair to the host, both ends up.
    public static func create() async throws -> NetworkNamespace {
        guard Self.ipPath != nil else { throw WorkerTestError("iproute2's ip is not installed") }
        let index = Self.created.withLock { count in
            count += 1
            return count
        }
        let pid = getpid()
        let name = "\(Self.prefix)\(pid)-\(index)"
        // Interface names have at most 15 bytes.
        let interface = "kr\(pid)x\(index)"
        let inUse = try await Self.ip(["-o", "-4", "addr", "show"]) + (try await Self.ip(["-4", "route", "show"]))
        var third = Int.random(in: 0..<256)
        for _ in 0..<256 where inUse.contains("10.214.\(third).") { third = (third + 1) % 256 }
        guard !inUse.contains("10.214.\(third).") else { throw WorkerTestError("no free subnet in 10.214.0.0/16") }
        let namespace = NetworkNamespace(
            name: name, hostInterface: interface, hostAddress: "10.214.\(third).1", address: "10.214.\(third).2")
        do {
            try await Self.ip(["netns", "add", name])
            try await Self.ip(["link", "add", interface, "type", "veth", "peer", "name", interface + "p"])
            try await Self.ip(["link", "set", interface + "p", "netns", name])
            try await Self.ip(["addr", "add", namespace.hostAddress + "/30", "dev", interface])
            try await Self.ip(["link", "set", interface, "up"])
            try await Self.ip(["-n", name, "addr", "add", namespace.address + "/30", "dev", interface + "p"])
            try await Self.ip(["-n", name, "link", "set", interface + "p", "up"])
            try await Self.ip(["-n", name, "link", "set", "lo", "up"])
        } catch {
            await namespace.remove()
            throw error
        }
        return namespace
    }

    /// Deletes the namespace and the veth pair (idempotent; errors ignored).
    public func remove() async {
        _ = try? await Self.ip(["link", "del", self.hostInterface])
        _ = try? await Self.ip(["netns", "del", self.name])
    }

    /// Deletes the namespaces earlier runs left behind: those whose process no longer runs.
    public static func removeStale() async {
        guard let list = try? await Self.ip(["netns", "list"]) else { return }
        for line in list.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix(Self.prefix) else { continue }
            let parts = name.dropFirst(Self.prefix.count).split(separator: "-")
            guard parts.count == 2, let pid = Int32(parts[0]) else { continue }
            if pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                _ = try? await Self.ip(["netns", "del", name])
            }
        }
    }

    /// Runs `ip` with `arguments`; its standard output, or an error with what it printed.
    @discardableResult
    static func ip(_ arguments: [String]) async throws -> String {
        guard let path = Self.ipPath else { throw WorkerTestError("iproute2's ip is not installed") }
        let result = try await runChildProcess(URL(fileURLWithPath: path), arguments)
        guard result.status == 0 else {
            throw WorkerTestError(
                "ip \(arguments.joined(separator: " ")) exited with status \(result.status): "
                    + result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return result.stdoutText
    }
}
