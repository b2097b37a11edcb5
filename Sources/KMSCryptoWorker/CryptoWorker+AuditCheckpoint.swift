import Foundation
import KMSCrypto
import KMSDomain
import KMSWorkerProto

/// Audit checkpoints (`AuditCheckpoint`): kmsd has each audit chain's head MACed here, under a
/// key derived from a root key that never leaves this process, so that whoever holds the
/// database cannot rewrite, truncate or replace a chain without `kms audit verify` seeing it.
extension CryptoWorker {
    /// Most checkpoints one VerifyAuditCheckpoints call checks: with chain ids of the longest,
    /// such a request is about 40 KB, well inside a frame.
    public static let checkpointsPerVerify = 128

    /// MACs a checkpoint under the active root key, stamped with this worker's time.
    public func macAuditCheckpoint(_ request: WorkerMacAuditCheckpointRequest, now: Date = Date()) throws(KMSError)
        -> WorkerMacAuditCheckpointResponse
    {
        var checkpoint = Self.checkpoint(request.checkpoint)
        checkpoint.microseconds = Int64((now.timeIntervalSince1970 * 1_000_000).rounded())
        let root = self.keyring.active
        var response = WorkerMacAuditCheckpointResponse()
        response.mac = Data(try checkpoint.mac(under: root))
        response.timeMicros = checkpoint.microseconds
        response.rootKeyID = root.id.description
        return response
    }

    /// A verdict per checkpoint. A checkpoint out of shape fails the whole call (kmsd checks
    /// shapes before asking); a MAC that does not match is a verdict, not an error.
    public func verifyAuditCheckpoints(_ request: WorkerVerifyAuditCheckpointsRequest) throws(KMSError)
        -> WorkerVerifyAuditCheckpointsResponse
    {
        guard (1...Self.checkpointsPerVerify).contains(request.checkpoints.count) else {
            throw .validation("checkpoints must hold 1..\(Self.checkpointsPerVerify) checkpoints")
        }
        let keyring = self.keyring
        var response = WorkerVerifyAuditCheckpointsResponse()
        response.verdicts.reserveCapacity(request.checkpoints.count)
        for checked in request.checkpoints {
            let checkpoint = Self.checkpoint(checked.checkpoint)
            // Refuses a malformed checkpoint whether or not its root key is held.
            _ = try checkpoint.message()
            let rootKeyID = try RootKeyID(string: checked.rootKeyID)
            guard let root = keyring.key(id: rootKeyID) else {
                response.verdicts.append(.unknownRootKey)
                continue
            }
            response.verdicts.append(try checkpoint.isValid(mac: [UInt8](checked.mac), under: root) ? .valid : .invalid)
        }
        return response
    }

    static func checkpoint(_ message: WorkerAuditCheckpoint) -> AuditCheckpoint {
        AuditCheckpoint(
            chain: message.chainID, number: message.number, sequence: message.sequence,
            recordHash: [UInt8](message.recordHash),
            microseconds: message.timeMicros, previousMAC: [UInt8](message.previousMac)
        )
    }
}
