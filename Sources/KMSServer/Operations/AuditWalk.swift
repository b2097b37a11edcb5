import Foundation
import KMSAuditChain
import KMSCrypto
import KMSDomain
import KMSProto
import KMSSigV4
import KMSStore
import KMSWorkerProto

/// Where a verification has got to: the chain it walks, the last record it checked there (its
/// sequence and hash), the segment it read last, the chain's last checkpoint checked (its MAC
/// verified, or waiting for a later one to vouch for it), and the totals so far. A marker carries
/// all of it, so kmsd keeps nothing between calls. (A forged marker only fools its own caller:
/// verification is for admins checking the log for themselves.)
struct AuditWalk {
    var chain = ""
    var segment = Int64.min
    var sequence: Int64 = 0
    var hash = AuditChain.genesis
    var records: Int64 = 0
    var chains: Int64 = 0
    /// The chain's last checkpoint checked: its number (0: none yet), the record it covers, its
    /// MAC (what the next one links to), its time and root key.
    var checkpoint: Int64 = 0
    var checkpointSequence: Int64 = 0
    var checkpointMAC = AuditCheckpoint.first
    var checkpointTime: Int64 = 0
    var checkpointRootKey: UUID?
    /// The first of the chain's last checkpoints whose root key kms-cryptod does not hold (0:
    /// none). A later checkpoint that verifies vouches for them: its MAC covers theirs.
    var unverifiedFrom: Int64 = 0
    /// Checkpoints checked, over all chains.
    var checkpoints: Int64 = 0

    /// What verification found wrong, at which record.
    struct Finding: Error {
        var sequence: Int64
        var reason: String
    }

    init() {}

    mutating func start(_ chain: String) {
        self.chain = chain
        self.segment = .min
        self.sequence = 0
        self.hash = AuditChain.genesis
        self.checkpoint = 0
        self.checkpointSequence = 0
        self.checkpointMAC = AuditCheckpoint.first
        self.checkpointTime = 0
        self.checkpointRootKey = nil
        self.unverifiedFrom = 0
    }

    /// Takes `stored`, the chain's next stored checkpoint, as its last: its number must follow
    /// the last one's, it must cover a later record, that record (`recordHash`, as walked; nil
    /// when the walk passed it before the checkpoint was read) must be the one it names, and it
    /// must be the one an earlier verification saw (`anchor`: its MAC then). Returns what to ask
    /// kms-cryptod about its MAC.
    mutating func take(_ stored: AuditStore.Checkpoint, recordHash: [UInt8]?, anchor: [UInt8]?) throws(Finding)
        -> WorkerCheckedAuditCheckpoint
    {
        let number = stored.number
        let sequence = stored.sequence
        guard number == self.checkpoint + 1 else {
            let missing =
                number == self.checkpoint + 2
                ? "checkpoint \(self.checkpoint + 1) is" : "checkpoints \(self.checkpoint + 1)..\(number - 1) are"
            throw Finding(
                sequence: sequence,
                reason: "\(missing) missing before checkpoint \(number) (checkpoint rows were deleted)")
        }
        guard sequence > self.checkpointSequence else {
            throw Finding(
                sequence: sequence,
                reason:
                    "checkpoint \(number) covers record \(sequence), not one after checkpoint \(self.checkpoint)'s "
                    + "(\(self.checkpointSequence))"
            )
        }
        guard stored.hash.count == 32, stored.mac.count == AuditCheckpoint.macLength, stored.microseconds > 0 else {
            throw Finding(sequence: sequence, reason: "checkpoint \(number) is malformed (it was edited)")
        }
        guard let recordHash else {
            throw Finding(
                sequence: sequence,
                reason: "checkpoint \(number) covers record \(sequence), which comes before the records it follows")
        }
        guard recordHash == stored.hash else {
            throw Finding(
                sequence: sequence,
                reason: "it is not the record checkpoint \(number) covers (the chain was rewritten or replaced)")
        }
        if let anchor, anchor != stored.mac {
            throw Finding(
                sequence: sequence,
                reason:
                    "checkpoint \(number) is not the one an earlier verification saw (the log was put back or replaced)"
            )
        }
        var checked = WorkerCheckedAuditCheckpoint()
        checked.checkpoint.chainID = stored.chain
        checked.checkpoint.number = number
        checked.checkpoint.sequence = sequence
        checked.checkpoint.recordHash = Data(stored.hash)
        checked.checkpoint.timeMicros = stored.microseconds
        checked.checkpoint.previousMac = Data(self.checkpointMAC)
        checked.rootKeyID = stored.rootKeyID.uuidString.lowercased()
        checked.mac = Data(stored.mac)
        (self.checkpoint, self.checkpointSequence, self.checkpointMAC) = (number, sequence, stored.mac)
        (self.checkpointTime, self.checkpointRootKey) = (stored.microseconds, stored.rootKeyID)
        self.checkpoints += 1
        return checked
    }

    /// Applies kms-cryptod's verdict on a checkpoint taken earlier.
    mutating func apply(_ verdict: WorkerAuditCheckpointVerdict, to checked: WorkerCheckedAuditCheckpoint)
        throws(Finding)
    {
        let number = checked.checkpoint.number
        switch verdict {
        case .valid:
            self.unverifiedFrom = 0
        case .unknownRootKey:
            if self.unverifiedFrom == 0 { self.unverifiedFrom = number }
        default:
            throw Finding(
                sequence: checked.checkpoint.sequence,
                reason: "checkpoint \(number)'s MAC does not verify (it was forged, altered or copied)")
        }
    }

    /// The chain as found, once walked to its end.
    var report: AdminAuditChainReport {
        var report = AdminAuditChainReport()
        report.chainID = self.chain
        report.records = self.sequence
        report.checkpoints = self.checkpoint
        report.lastCheckpointNumber = self.checkpoint
        report.recordsAfterCheckpoint = self.sequence - self.checkpointSequence
        if self.checkpoint > 0 {
            report.lastCheckpointSequence = self.checkpointSequence
            report.lastCheckpointTime = .init(
                date: Date(timeIntervalSince1970: Double(self.checkpointTime) / 1_000_000))
            report.lastCheckpointMac = Hex.encode(self.checkpointMAC)
            report.lastCheckpointRootKeyID = self.checkpointRootKey?.uuidString.lowercased() ?? ""
        }
        return report
    }

    var marker: String {
        [
            "v2", self.chain, "\(self.segment)", "\(self.sequence)", Hex.encode(self.hash), "\(self.records)",
            "\(self.chains)",
            "\(self.checkpoint)", "\(self.checkpointSequence)", Hex.encode(self.checkpointMAC),
            "\(self.checkpointTime)",
            self.checkpointRootKey?.uuidString.lowercased() ?? "-", "\(self.unverifiedFrom)", "\(self.checkpoints)",
        ].joined(separator: "/")
    }

    init?(marker: String) {
        let parts = marker.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 14, parts[0] == "v2", AuditStore.isValidChain(parts[1]),
            let segment = Int64(parts[2]), let sequence = Int64(parts[3]), sequence >= 0,
            parts[4].utf8.count == 64, let hash = Hex.decode(parts[4]),
            let records = Int64(parts[5]), records >= 0, let chains = Int64(parts[6]), chains >= 0,
            let checkpoint = Int64(parts[7]), checkpoint >= 0, let checkpointSequence = Int64(parts[8]),
            checkpointSequence >= 0,
            parts[9].utf8.count == 64, let mac = Hex.decode(parts[9]), let time = Int64(parts[10]),
            parts[11] == "-" || UUID(uuidString: parts[11]) != nil,
            let unverified = Int64(parts[12]), unverified >= 0, let checkpoints = Int64(parts[13]), checkpoints >= 0
        else { return nil }
        (self.chain, self.segment, self.sequence, self.hash, self.records, self.chains) = (
            parts[1], segment, sequence, hash, records, chains
        )
        (self.checkpoint, self.checkpointSequence, self.checkpointMAC, self.checkpointTime) = (
            checkpoint, checkpointSequence, mac, time
        )
        (self.checkpointRootKey, self.unverifiedFrom, self.checkpoints) = (
            UUID(uuidString: parts[11]), unverified, checkpoints
        )
    }
}

/// The stored checkpoints of the chain being walked, read a page at a time, and those taken
/// whose MACs kms-cryptod has yet to check.
struct CheckpointCursor {
    /// Checkpoints read from the database at a time.
    static let page = 256
    /// Checkpoints whose MACs one call to kms-cryptod checks (its limit: a request within a frame).
    static let perVerify = 128

    var pending: [AuditStore.Checkpoint] = []
    /// The highest number read.
    var read: Int64
    var exhausted = false
    var unverified: [WorkerCheckedAuditCheckpoint] = []

    init(after checkpoint: Int64) {
        self.read = checkpoint
    }
}
