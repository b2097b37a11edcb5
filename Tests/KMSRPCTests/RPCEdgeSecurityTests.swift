import Foundation
import KMSRPC
import Logging
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// IPv4 clients of a dual-stack listener are seen as IPv4 (what `aws:SourceIp` and the audit
/// log get). Before, they were `::ffff:a.b.c.d` and escaped every IPv4 condition.
@Suite struct IPv4MappedAddressTests {
    @Test func aMappedAddressIsItsIPv4Address() throws {
        let mapped = try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 5)
        let plain = mapped.unmappingIPv4
        #expect(plain.protocol == .inet)
        #expect(plain.ipAddress == "10.1.2.3")
        #expect(plain.port == 5)
        #expect(RPCConnectionInfo(id: 1, remoteAddress: mapped).remoteIP == "10.1.2.3")
        #expect(RPCConnectionInfo(id: 1, remoteAddress: mapped).remoteAddress?.protocol == .inet)
    }

    @Test(arguments: ["::1", "2001:db8::ffff:1.2.3.4", "::1.2.3.4", "::fffe:1.2.3.4", "fe80::1", "10.1.2.3"])
    func otherAddressesAreLeftAlone(_ text: String) throws {
        let address = try SocketAddress(ipAddress: text, port: 7)
        #expect(address.unmappingIPv4 == address)
        #expect(RPCConnectionInfo(id: 1, remoteAddress: address).remoteIP == address.ipAddress)
    }

    /// A real listener on [::] and a client on 127.0.0.1: the handler sees 127.0.0.1.
    @Test func aDualStackListenerSeesItsIPv4ClientsAsIPv4() async throws {
        let whereFrom = RPCMethod<RPCErrorBody, RPCErrorBody>("WhereFrom")
        var table = RPCHandlerTable()
        table.register(whereFrom) { _, context in
            var body = RPCErrorBody()
            body.message = context.connection.remoteIP ?? "?"
            return body
        }
        let server: RPCServer
        do {
            server = try await RPCServer.bind(
                to: SocketAddress(ipAddress: "::", port: 0), table: table, logger: Logger(label: "test"))
        } catch {
            return  // no IPv6 on this machine: nothing to test
        }
        let port = try #require(server.localAddress?.port)
        let client = try await RPCClientConnection.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: port))
        #expect(try await client.call(whereFrom, RPCErrorBody()).message == "127.0.0.1")
        await client.close()
        await server.close()
    }
}

/// Client input in log lines cannot start a line of its own, hide itself or fill the log.
@Suite struct LogEscapingTests {
    @Test func controlAndFormatCharactersAreWrittenAsEscapes() {
        #expect(LogEscaping.escape("AKIA\nkmsd: [critical] forged") == "AKIA\\nkmsd: [critical] forged")
        #expect(LogEscaping.escape("a\r\tb") == "a\\r\\tb")
        #expect(LogEscaping.escape("\u{1B}[2Jcleared") == "\\u{1B}[2Jcleared")
        #expect(LogEscaping.escape("evil\u{202E}txt.exe") == "evil\\u{202E}txt.exe")
        #expect(LogEscaping.escape("line\u{2028}separator\u{0}") == "line\\u{2028}separator\\u{0}")
        // A backslash is escaped too, so an escape in the output always means one in the input.
        #expect(LogEscaping.escape("\\n") == "\\\\n")
        #expect(LogEscaping.escape("Encrypt é 🔑") == "Encrypt é 🔑")
    }

    @Test func longInputIsCutAndSaysHowMuch() {
        let escaped = LogEscaping.escape(String(repeating: "A", count: 10_000), limit: 16)
        #expect(escaped == String(repeating: "A", count: 16) + "…(9984 more)")
        #expect(LogEscaping.escape("short", limit: 16) == "short")
    }

    @Test func theMetadataValueIsTheEscapedText() {
        #expect(Logger.MetadataValue.untrusted("a\nb").description == "a\\nb")
    }
}

/// A client certificate's principal does not depend on the order of a dictionary or of the
/// certificate's names: the exact URI wins, then the longest pattern.
@Suite struct CertificatePrincipalTests {
    static let mapping = [
        "spiffe://c/ns/payments/*": "arn:aws:iam::111122223333:role/payments",
        "spiffe://c/ns/payments/sa/admin*": "arn:aws:iam::111122223333:role/payments-admin",
        "spiffe://c/*": "arn:aws:iam::111122223333:role/cluster",
        "spiffe://c/ns/payments/sa/api": "arn:aws:iam::111122223333:role/api",
    ]

    @Test func theMostSpecificRuleWins() {
        let map = RPCCertificatePrincipals(Self.mapping)
        #expect(
            map.principal(forURIs: ["spiffe://c/ns/payments/sa/admin-1"])
                == "arn:aws:iam::111122223333:role/payments-admin")
        #expect(
            map.principal(forURIs: ["spiffe://c/ns/payments/sa/worker"]) == "arn:aws:iam::111122223333:role/payments")
        #expect(map.principal(forURIs: ["spiffe://c/ns/other/sa/x"]) == "arn:aws:iam::111122223333:role/cluster")
        #expect(map.principal(forURIs: ["spiffe://c/ns/payments/sa/api"]) == "arn:aws:iam::111122223333:role/api")
        #expect(map.principal(forURIs: ["spiffe://elsewhere/x"]) == nil)
        #expect(map.principal(forURIs: []) == nil)
    }

    /// Every order of the mapping's insertion and of the certificate's SANs gives one answer.
    @Test func orderNeverMatters() {
        let entries = Array(Self.mapping)
        let uris = [
            "spiffe://c/ns/other/sa/x", "spiffe://c/ns/payments/sa/admin-1", "spiffe://c/ns/payments/sa/worker",
        ]
        var answers = Set<String?>()
        var generator = SeededGenerator(seed: 15)
        for _ in 0..<200 {
            var mapping: [String: String] = [:]
            for (pattern, principal) in entries.shuffled(using: &generator) { mapping[pattern] = principal }
            answers.insert(RPCCertificatePrincipals(mapping).principal(forURIs: uris.shuffled(using: &generator)))
        }
        #expect(answers == ["arn:aws:iam::111122223333:role/payments-admin"])
        // An exact name on any SAN beats every pattern on the others.
        let exact = RPCCertificatePrincipals(Self.mapping).principal(forURIs: uris + ["spiffe://c/ns/payments/sa/api"])
        #expect(exact == "arn:aws:iam::111122223333:role/api")
    }

    @Test func patternsOfOneLengthAreOrderedByTheirText() {
        let map = RPCCertificatePrincipals([
            "spiffe://a/x*": "arn:aws:iam::1:role/ax", "spiffe://b/y*": "arn:aws:iam::1:role/by",
        ])
        #expect(map.principal(forURIs: ["spiffe://b/y1", "spiffe://a/x1"]) == "arn:aws:iam::1:role/ax")
        #expect(map.principal(forURIs: ["spiffe://a/x1", "spiffe://b/y1"]) == "arn:aws:iam::1:role/ax")
    }
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        // SplitMix64.
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// kmsd's side of the worker link: a process of another uid that binds the socket path (while
/// kms-cryptod is down, say) gets no connection, so nothing is ever sent to it.
@Suite struct PeerCredentialTests {
    @Test func theCheckComparesUIDs() throws {
        try RPCPeerCredentials.check(peerUID: 1000, expected: 1000)
        #expect(throws: RPCError.self) { try RPCPeerCredentials.check(peerUID: 65534, expected: 1000) }
        do {
            try RPCPeerCredentials.check(peerUID: 0, expected: 1000)
        } catch {
            #expect(error.code == RPCError.peerRefusedCode)
            #expect(error.message.contains("uid 0"))
        }
    }

    /// A listener made by a child process running as `nobody` (uid 65534): it binds as root,
    /// drops to nobody, then listens (SO_PEERCRED reports the listener's uid at listen()), and
    /// writes how many bytes each connection sent it. Root is needed to change uid; as any
    /// other user this test only runs the check function above.
    static let fakeWorker = """
        import os, socket, sys
        path, connections = sys.argv[1], int(sys.argv[2])
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
        s.listen(4)
        open(path + ".ready", "w").close()
        received = []
        for _ in range(connections):
            c, _ = s.accept()
            n = 0
            while True:
                chunk = c.recv(65536)
                if not chunk: break
                n += len(chunk)
            c.close()
            received.append(str(n))
        with open(path + ".result.tmp", "w") as f: f.write(",".join(received))
        os.rename(path + ".result.tmp", path + ".result")
        """

    @Test func aWorkerSocketBoundByAnotherUserIsRefusedBeforeAnythingIsSent() async throws {
        guard getuid() == 0 else { return }
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("kmsp-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // The child drops to nobody after bind and must still write its files here.
        chmod(directory.path, 0o777)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("w.sock").path
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        child.arguments = ["python3", "-c", Self.fakeWorker, path, "2"]
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        // SIGKILL: a child inherits the test's blocked signals, SIGTERM among them.
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL) } }
        try await Self.waitForFile(path + ".ready", child: child)

        // As kmsd's WorkerPool does: the expected uid is root's; the listener is nobody's.
        let pool = RPCConnectionPool(
            address: try SocketAddress(unixDomainSocketPath: path), connections: 1,
            peerCheck: RPCPeerCredentials.requireUID(0)
        )
        do {
            let connection = try await pool.connection()
            _ = try await connection.call(method: "Decrypt", payload: [1, 2, 3], timeout: .seconds(30))
            Issue.record("a connection to a listener of uid 65534 was used")
        } catch let error as RPCError {
            #expect(error.code == RPCError.peerRefusedCode)
            #expect(error.message.contains("uid 65534"))
        }
        await pool.close()
        // The same listener, expected as nobody's, is connected to (the check is the uid's).
        let accepting = try await RPCClientConnection.connect(
            unixDomainSocketPath: path, peerCheck: RPCPeerCredentials.requireUID(65534))
        await accepting.close()

        try await Self.waitForFile(path + ".result", child: child)
        let received = try String(contentsOfFile: path + ".result", encoding: .utf8)
        #expect(received == "0,0", "the refused connection carried bytes: \(received)")
    }

    static func waitForFile(_ path: String, child: Process) async throws {
        for _ in 0..<600 {
            if FileManager.default.fileExists(atPath: path) { return }
            guard child.isRunning else {
                throw RPCError(code: "Test", message: "the fake worker exited with \(child.terminationStatus)")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw RPCError(code: "Test", message: "\(path) never appeared")
    }
}
