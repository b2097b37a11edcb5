import Foundation
import KMSCrypto
import KMSCryptoWorker
import KMSDomain
import KMSRPC
import KMSTestSupport
import KMSWorkerProto
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// kms-cryptod derives SigV4 signing keys only for service kms, its --regions and dates within
/// a day of today (UTC): a signing key forges every request of its scope, so it is given out
/// for no more scopes than kmsd serves.
@Suite struct SigningKeyScopeTests {
    /// 2015-08-30T12:36:00Z.
    static let now = Date(timeIntervalSince1970: 1_440_938_160)

    static func request(_ worker: CryptoWorker, date: String, region: String = "us-east-1", service: String = "kms")
        throws -> WorkerDeriveSigningKeyRequest
    {
        var create = WorkerCreateAccessKeySecretRequest()
        create.accessKeyID = "AKIAEDGETESTEDGETEST"
        create.principalArn = "arn:aws:iam::111122223333:user/edge"
        let created = try worker.createAccessKeySecret(create)
        var derive = WorkerDeriveSigningKeyRequest()
        derive.accessKeyID = create.accessKeyID
        derive.principalArn = create.principalArn
        derive.wrappedSecret = created.wrappedSecret
        derive.date = date
        derive.region = region
        derive.service = service
        return derive
    }

    static func code(_ worker: CryptoWorker, date: String, region: String = "us-east-1", service: String = "kms") throws
        -> KMSError.Code?
    {
        let request = try Self.request(worker, date: date, region: region, service: service)
        do {
            _ = try worker.deriveSigningKey(request)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func onlyTheServedRegionsServiceKmsAndTodayPlusOrMinusADay() async throws {
        let worker = CryptoWorker(
            keyring: RootKeyring(keys: [.generate()]), heavyThreads: 1,
            signingScope: SigningKeyScope(regions: ["us-east-1", "eu-west-1"], now: { Self.now })
        )
        for date in ["20150829", "20150830", "20150831"] {
            #expect(try Self.code(worker, date: date) == nil, "\(date)")
        }
        #expect(try Self.code(worker, date: "20150830", region: "eu-west-1") == nil)
        for date in ["20150828", "20150901", "20160830", "19700101"] {
            #expect(try Self.code(worker, date: date) == .accessDenied, "\(date)")
        }
        #expect(try Self.code(worker, date: "20150830", region: "us-west-2") == .accessDenied)
        #expect(try Self.code(worker, date: "20150830", service: "s3") == .accessDenied)
        #expect(try Self.code(worker, date: "20150830", service: "sts") == .accessDenied)
        // Not a day at all.
        #expect(try Self.code(worker, date: "20150231") == .validation)
        await worker.shutdown()
    }

    /// The key derived is the one SigV4 defines for that scope (the worker's check does not
    /// change what it derives).
    @Test func theKeyDerivedIsSigV4s() async throws {
        let worker = CryptoWorker(
            keyring: RootKeyring(keys: [.generate()]), heavyThreads: 1, signingScope: SigningKeyScope(now: { Self.now })
        )
        var create = WorkerCreateAccessKeySecretRequest()
        create.accessKeyID = "AKIAEDGETESTEDGETEST"
        create.principalArn = "arn:aws:iam::111122223333:user/edge"
        let created = try worker.createAccessKeySecret(create)
        var derive = WorkerDeriveSigningKeyRequest()
        derive.accessKeyID = create.accessKeyID
        derive.principalArn = create.principalArn
        derive.wrappedSecret = created.wrappedSecret
        derive.date = "20150830"
        derive.region = "us-east-1"
        derive.service = "kms"
        let key = try worker.deriveSigningKey(derive).signingKey
        let expected = SigV4.signingKey(
            secret: Array(created.secretAccessKey.utf8), date: "20150830", region: "us-east-1", service: "kms")
        #expect(key == expected.withUnsafeBytes { Data($0) })
        await worker.shutdown()
    }
}

/// A started kms-cryptod, seen from outside through /proc: not dumpable, no core files, memory
/// locked; and its --regions option.
@Suite struct WorkerProcessHardeningTests {
    static func procFile(_ pid: Int32, _ name: String) throws -> String {
        try String(contentsOfFile: "/proc/\(pid)/\(name)", encoding: .utf8)
    }

    /// The uid that owns /proc/<pid>: the kernel shows a process that is not dumpable as
    /// root's, whatever uid it runs as (and refuses same-uid ptrace and /proc/<pid>/mem to it).
    static func procOwner(_ pid: Int32) -> uid_t? {
        var info = stat()
        guard stat("/proc/\(pid)/status", &info) == 0 else { return nil }
        return info.st_uid
    }

    static func locked(_ pid: Int32) throws -> Int {
        let status = try Self.procFile(pid, "status")
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmLck:") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    static func coreLimit(_ pid: Int32) throws -> [Substring] {
        let limits = try Self.procFile(pid, "limits")
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") } ?? ""
        return Array(core.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2))
    }

    @Test func kmsCryptodTurnsCoreDumpsOffAndLocksItsMemory() async throws {
        let worker = try await WorkerProcess()
        try await worker.start()
        let pid = try #require(worker.process?.processIdentifier)
        #expect(try Self.coreLimit(pid) == ["0", "0"])
        #expect(
            try Self.coreLimit(getpid()) != ["0", "0"],
            "the test itself has a hard core limit of 0: the check says nothing")
        // Root has CAP_IPC_LOCK, so the memory is locked; elsewhere kms-cryptod warns instead.
        if getuid() == 0 {
            #expect(try Self.locked(pid) > 0)
        }
        await worker.stop()
    }

    /// Run as nobody (so that /proc ownership tells): kms-cryptod's /proc entries are root's,
    /// a plain process's of the same uid are nobody's.
    @Test func kmsCryptodIsNotDumpable() async throws {
        let setpriv = "/usr/bin/setpriv"
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: setpriv) else { return }
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("kmsn-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(chown(directory.path, 65534, 65534) == 0)
        let asNobody = ["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]
        let keyring = directory.appendingPathComponent("root.keyring").path
        let socket = directory.appendingPathComponent("w.sock").path
        let binary = binaryPath("kms-cryptod", environment: "KMS_CRYPTOD")
        let initialised = try await runChildProcess(
            URL(fileURLWithPath: setpriv), asNobody + [binary, "init", "--root-key-file", keyring])
        #expect(initialised.status == 0, "\(initialised.stderrText)")

        let cryptod = Process()
        cryptod.executableURL = URL(fileURLWithPath: setpriv)
        cryptod.arguments =
            asNobody + [binary, "serve", "--root-key-file", keyring, "--socket", socket, "--log-level", "error"]
        cryptod.standardOutput = FileHandle.nullDevice
        cryptod.standardError = FileHandle.nullDevice
        try cryptod.run()
        let control = Process()
        control.executableURL = URL(fileURLWithPath: setpriv)
        control.arguments = asNobody + ["/bin/sleep", "60"]
        control.standardOutput = FileHandle.nullDevice
        control.standardError = FileHandle.nullDevice
        try control.run()
        // SIGKILL: a child inherits the test's blocked signals, SIGTERM among them.
        defer {
            if cryptod.isRunning { kill(cryptod.processIdentifier, SIGKILL) }
            if control.isRunning { kill(control.processIdentifier, SIGKILL) }
        }
        for _ in 0..<400 where !FileManager.default.fileExists(atPath: socket) {
            guard cryptod.isRunning else { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(FileManager.default.fileExists(atPath: socket), "kms-cryptod did not start as nobody")
        let status = try Self.procFile(cryptod.processIdentifier, "status")
        #expect(status.contains("Uid:\t65534\t65534\t65534\t65534"))
        // setpriv runs as root until it switches to nobody, which on a loaded machine can be
        // after kms-cryptod is up.
        for _ in 0..<400 where control.isRunning && Self.procOwner(control.processIdentifier) != 65534 {
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(Self.procOwner(control.processIdentifier) == 65534)
        #expect(Self.procOwner(cryptod.processIdentifier) == 0, "kms-cryptod is dumpable")
        #expect(try Self.coreLimit(cryptod.processIdentifier) == ["0", "0"])
    }

    @Test func signingKeysOnlyForTheRegionsItIsGiven() async throws {
        let worker = try await WorkerProcess()
        try await worker.start(extraArguments: ["--regions", "eu-west-1,ap-south-1"])
        let connection = try await worker.connect()
        var create = WorkerCreateAccessKeySecretRequest()
        create.accessKeyID = "AKIAEDGETESTEDGETEST"
        create.principalArn = "arn:aws:iam::111122223333:user/edge"
        let created = try await connection.call(WorkerMethod.createAccessKeySecret, create)
        func derive(_ region: String, date: Date = Date()) async -> String? {
            var request = WorkerDeriveSigningKeyRequest()
            request.accessKeyID = create.accessKeyID
            request.principalArn = create.principalArn
            request.wrappedSecret = created.wrappedSecret
            request.date = String(SigV4.formatAmzDate(date).prefix(8))
            request.region = region
            request.service = "kms"
            do {
                _ = try await connection.call(WorkerMethod.deriveSigningKey, request)
                return nil
            } catch let error as RPCError {
                return error.code
            } catch {
                return "\(error)"
            }
        }
        #expect(await derive("eu-west-1") == nil)
        #expect(await derive("ap-south-1") == nil)
        #expect(await derive("us-east-1") == "AccessDeniedException")
        #expect(await derive("eu-west-1", date: Date().addingTimeInterval(-3 * 86_400)) == "AccessDeniedException")
        await connection.close()
        await worker.stop()
    }

    @Test func badRegionsAreRefusedAtStart() async throws {
        let worker = try await WorkerProcess()
        await #expect(throws: (any Error).self) { try await worker.start(extraArguments: ["--regions", "US_EAST_1"]) }
        await worker.stop()
    }
}
