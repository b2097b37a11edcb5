import Crypto
import Foundation
import KMSCrypto
import KMSCryptoWorker
import KMSDomain
import KMSWorkerProto
import SwiftProtobuf
import Testing

/// The worker's two checkpoint methods: it MACs only the checkpoint encoding (pinned in
/// KMSCryptoTests), stamps its own time, verifies under whichever root key made the MAC while it
/// holds it, and refuses anything out of shape.
@Suite struct AuditCheckpointWorkerTests {
    static let old = RootKey(
        id: RootKeyID(UUID(uuidString: "00112233-4455-6677-8899-aabbccddeeff")!),
        createdAt: Date(timeIntervalSince1970: 0),
        key: SymmetricKey(data: Array(0..<32) as [UInt8])
    )

    static func checkpoint(number: Int64 = 7, previous: [UInt8] = Array(0x40..<0x60)) -> WorkerAuditCheckpoint {
        var checkpoint = WorkerAuditCheckpoint()
        checkpoint.chainID = "replica-a"
        checkpoint.number = number
        checkpoint.sequence = 1234
        checkpoint.recordHash = Data(Array(0x20..<0x40) as [UInt8])
        checkpoint.previousMac = Data(previous)
        return checkpoint
    }

    static func checked(_ checkpoint: WorkerAuditCheckpoint, _ made: WorkerMacAuditCheckpointResponse)
        -> WorkerCheckedAuditCheckpoint
    {
        var checked = WorkerCheckedAuditCheckpoint()
        checked.checkpoint = checkpoint
        checked.checkpoint.timeMicros = made.timeMicros
        checked.rootKeyID = made.rootKeyID
        checked.mac = made.mac
        return checked
    }

    @Test func aKnownCheckpointIsMACedUnderTheNewestRootKeyWithTheWorkersTime() async throws {
        let worker = CryptoWorker(keyring: RootKeyring(keys: [Self.old]))
        var request = WorkerMacAuditCheckpointRequest()
        request.checkpoint = Self.checkpoint()
        request.checkpoint.timeMicros = 42  // ignored: the worker's clock sets it
        let made = try worker.macAuditCheckpoint(request, now: Date(timeIntervalSince1970: 1_764_400_000.123456))
        #expect(made.timeMicros == 1_764_400_000_123_456)
        #expect(made.rootKeyID == "00112233-4455-6677-8899-aabbccddeeff")
        // The known answer of AuditCheckpointEncodingTests, through the worker's request.
        #expect(
            made.mac.map { String(format: "%02x", $0) }.joined()
                == "c4a363a3aa5daa764fc9440959358cba99d3c5c0c7455310e3f22f0316025130")
        await worker.shutdown()
    }

    @Test func checkpointsVerifyWhileTheirRootKeyIsHeldAndNothingElseDoes() async throws {
        let worker = CryptoWorker(keyring: RootKeyring(keys: [Self.old]))
        var request = WorkerMacAuditCheckpointRequest()
        request.checkpoint = Self.checkpoint()
        let made = try worker.macAuditCheckpoint(request)
        let good = Self.checked(request.checkpoint, made)
        var forged = good
        forged.mac[0] ^= 1
        var moved = good
        moved.checkpoint.sequence += 1
        var otherChain = good
        otherChain.checkpoint.chainID = "replica-b"
        var short = good
        short.mac = short.mac.dropLast()
        var verify = WorkerVerifyAuditCheckpointsRequest()
        verify.checkpoints = [good, forged, moved, otherChain, short]
        #expect(try worker.verifyAuditCheckpoints(verify).verdicts == [.valid, .invalid, .invalid, .invalid, .invalid])

        // After a root key rotation, new checkpoints are made under the new key and old ones
        // still verify; once the old key is retired, its checkpoints cannot be checked.
        let newer = RootKey.generate()
        worker.reload(RootKeyring(keys: [Self.old, newer]))
        let next = try worker.macAuditCheckpoint(request)
        #expect(next.rootKeyID == newer.id.description)
        verify.checkpoints = [good, Self.checked(request.checkpoint, next)]
        #expect(try worker.verifyAuditCheckpoints(verify).verdicts == [.valid, .valid])
        worker.reload(RootKeyring(keys: [newer]))
        #expect(try worker.verifyAuditCheckpoints(verify).verdicts == [.unknownRootKey, .valid])
        await worker.shutdown()
    }

    @Test func malformedCheckpointsAreRefused() async throws {
        let worker = CryptoWorker(keyring: RootKeyring(keys: [Self.old]))
        var malformed: [WorkerAuditCheckpoint] = []
        for change in 0..<7 {
            var checkpoint = Self.checkpoint()
            switch change {
            case 0: checkpoint.chainID = ""
            case 1: checkpoint.chainID = "a b"
            case 2: checkpoint.number = 0
            case 3: checkpoint.sequence = -1
            case 4: checkpoint.recordHash = Data(repeating: 1, count: 33)
            case 5: checkpoint.previousMac = Data()
            default: checkpoint = Self.checkpoint(number: 1)  // checkpoint 1 links to no MAC
            }
            malformed.append(checkpoint)
        }
        for checkpoint in malformed {
            var request = WorkerMacAuditCheckpointRequest()
            request.checkpoint = checkpoint
            #expect(throws: KMSError.self) { try worker.macAuditCheckpoint(request) }
            var verify = WorkerVerifyAuditCheckpointsRequest()
            var checked = WorkerCheckedAuditCheckpoint()
            checked.checkpoint = checkpoint
            checked.checkpoint.timeMicros = 1
            checked.rootKeyID = Self.old.id.description
            checked.mac = Data(repeating: 0, count: 32)
            verify.checkpoints = [checked]
            #expect(throws: KMSError.self) { try worker.verifyAuditCheckpoints(verify) }
        }
        // A checkpoint without a time, a root key id that is no UUID, no checkpoints, too many.
        var request = WorkerMacAuditCheckpointRequest()
        request.checkpoint = Self.checkpoint()
        let made = try worker.macAuditCheckpoint(request)
        var verify = WorkerVerifyAuditCheckpointsRequest()
        var untimed = Self.checked(request.checkpoint, made)
        untimed.checkpoint.timeMicros = 0
        verify.checkpoints = [untimed]
        #expect(throws: KMSError.self) { try worker.verifyAuditCheckpoints(verify) }
        var unnamed = Self.checked(request.checkpoint, made)
        unnamed.rootKeyID = "root"
        verify.checkpoints = [unnamed]
        #expect(throws: KMSError.self) { try worker.verifyAuditCheckpoints(verify) }
        verify.checkpoints = []
        #expect(throws: KMSError.self) { try worker.verifyAuditCheckpoints(verify) }
        verify.checkpoints = Array(repeating: Self.checked(request.checkpoint, made), count: 129)
        #expect(throws: KMSError.self) { try worker.verifyAuditCheckpoints(verify) }
        verify.checkpoints = Array(repeating: Self.checked(request.checkpoint, made), count: 128)
        #expect(try worker.verifyAuditCheckpoints(verify).verdicts.allSatisfy { $0 == .valid })
        // The most kmsd sends in one call fits a frame (64 KiB) with room to spare, even with
        // chain ids and numbers of the longest.
        var longest = Self.checked(request.checkpoint, made)
        longest.checkpoint.chainID = String(repeating: "c", count: 128)
        (longest.checkpoint.number, longest.checkpoint.sequence, longest.checkpoint.timeMicros) = (.max, .max, .max)
        verify.checkpoints = Array(repeating: longest, count: CryptoWorker.checkpointsPerVerify)
        #expect(try (verify.serializedBytes() as [UInt8]).count < 48 * 1024)
        await worker.shutdown()
    }
}
