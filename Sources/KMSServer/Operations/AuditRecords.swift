import Foundation
import KMSAuditChain
import KMSCrypto
import KMSDomain
import KMSProto
import KMSSigV4
import KMSStore
import KMSWorkerProto
import SwiftProtobuf

/// Reading the audit log (admins only): filtered pages, and a walk of the whole hash chain.
extension KMSService {
    /// How many segments one ListAuditRecords call reads at most (for how long:
    /// `ServiceTimeouts.auditPage`): a rare combination of filters over a long log returns a
    /// short (even empty) page and a marker rather than outliving the client's timeout.
    static let auditSegmentsPerPage = 20_000
    /// A page's records stop short of this many bytes, so the answer fits in a frame (64 KiB).
    static let auditPageBytes = 60 * 1024

    /// A page holds as many matching records as `Limit` and a frame allow; the store reads only
    /// segments that can match (AuditReading.scan), and only as far as the page needs. NextMarker
    /// is set only when a record was left for the next page (or reading stopped early).
    func listAuditRecords(_ request: AdminListAuditRecordsRequest, caller: Caller) async throws(KMSError)
        -> AdminListAuditRecordsResponse
    {
        try Self.requireAdmin(caller, "ListAuditRecords")
        let limit = request.limit == 0 ? 100 : Int(request.limit)
        guard (1...1000).contains(limit) else { throw .validation("Limit must be 1..1000") }
        var after = AuditStore.Marker.start
        if !request.marker.isEmpty {
            guard let marker = AuditStore.Marker(request.marker) else {
                throw KMSError(.invalidMarker, "The marker is not one this operation returned.")
            }
            after = marker
        }
        let filter = AuditStore.Filter(
            keyARN: request.keyArn.isEmpty ? nil : request.keyArn,
            principalARN: request.principalArn.isEmpty ? nil : request.principalArn,
            operation: request.operation.isEmpty ? nil : request.operation,
            errorCode: request.errorCode.isEmpty ? nil : request.errorCode,
            from: request.hasStartTime ? request.startTime.date : nil,
            to: request.hasEndTime ? request.endTime.date : nil
        )
        // Changes are answered before their records are chained: a caller sees those it was answered.
        await self.auditLog?.settle()
        let store = self.stores.auditRecords
        let deadline = ContinuousClock.now + ServiceTimeouts.current.auditPage
        let (page, resume) = try await self.store { [after] in
            var page = AuditPage(limit: limit, bytes: Self.auditPageBytes)
            let resume = try await store.scan(
                filter, after: after, operations: nil, maxSegments: Self.auditSegmentsPerPage, deadline: deadline
            ) { page.take($0) }
            return (page, resume)
        }
        var response = AdminListAuditRecordsResponse()
        response.records = page.records
        if let next = page.next {
            response.nextMarker = next.description
        } else if let resume {
            // Fewer records than asked for, and more of the log to read: the caller goes on.
            response.nextMarker = resume.description
        }
        return response
    }

    /// Walks every chain from its first record: each must link to the one before it and match
    /// its hash, and the chain must reach its head row (records deleted from its end show).
    /// Along the way each of the chain's checkpoints must follow the one before it and name the
    /// record it covers, and kms-cryptod must find its MAC valid: so a chain rewritten with new
    /// hashes, cut back before a checkpoint, or removed, and a checkpoint forged, copied or
    /// deleted, show too. A call stops after about 3 s (or `max_records`) with a marker to go
    /// on from, so that a log of any size is verified in calls that each end well within a
    /// client's timeout; each call reports the chains it finished.
    func verifyAuditLog(_ request: AdminVerifyAuditLogRequest, caller: Caller) async throws(KMSError)
        -> AdminVerifyAuditLogResponse
    {
        try Self.requireAdmin(caller, "VerifyAuditLog")
        guard request.maxRecords >= 0 else { throw .validation("MaxRecords must not be negative") }
        var walk = AuditWalk()
        if !request.marker.isEmpty {
            guard let resumed = AuditWalk(marker: request.marker) else {
                throw KMSError(.invalidMarker, "The marker is not one this operation returned.")
            }
            walk = resumed
        }
        let anchors = try Self.anchors(request.expectedCheckpoints)
        await self.auditLog?.settle()
        let deadline = ContinuousClock.now + ServiceTimeouts.current.auditVerify
        let budget = request.maxRecords > 0 ? walk.records + request.maxRecords : Int64.max
        let store = self.stores.auditRecords
        var response = AdminVerifyAuditLogResponse()
        func report() -> AdminVerifyAuditLogResponse {
            response.recordsChecked = walk.records
            response.chainsChecked = walk.chains
            response.checkpointsChecked = walk.checkpoints
            return response
        }
        func broken(_ chain: String, _ sequence: Int64, _ reason: String) -> AdminVerifyAuditLogResponse {
            response.intact = false
            response.firstBrokenChain = chain
            response.firstBrokenSequence = sequence
            response.reason = "chain \(chain), record \(sequence): \(reason)"
            return report()
        }
        // Chains in byte order, not the database's collation, so a marker resumes where it left.
        let all = try await self.store { try await store.chains() }.sorted {
            $0.chain.utf8.lexicographicallyPrecedes($1.chain.utf8)
        }
        let chains = all.filter { !$0.chain.utf8.lexicographicallyPrecedes(walk.chain.utf8) }
        // Each call checks at least one batch, so a caller that follows the markers always ends.
        var progressed = false
        for (chain, head) in chains {
            if chain != walk.chain { walk.start(chain) }
            var cursor = CheckpointCursor(after: walk.checkpoint)
            // A checkpoint past the records read may be one stored after they were: read once more.
            var recheckedEnd = false
            do {
                while true {
                    if progressed, walk.records >= budget || ContinuousClock.now >= deadline {
                        try await self.verifyCheckpointMACs(&cursor, &walk)
                        response.intact = true
                        response.nextMarker = walk.marker
                        return report()
                    }
                    // An unreadable segment is a finding, not a failure of the walk.
                    let segment = walk.segment
                    let segments = Int(max(1, min(16, budget - walk.records)))
                    let read: Result<(records: [AuditRecord], lastSegment: Int64)?, AuditSegment.Unreadable> =
                        try await self.store {
                            do {
                                return .success(
                                    try await store.walk(chain: chain, afterSegment: segment, segments: segments))
                            } catch let error as AuditSegment.Unreadable {
                                return .failure(error)
                            }
                        }
                    let next: (records: [AuditRecord], lastSegment: Int64)?
                    switch read {
                    case .success(let value): next = value
                    case .failure(let error):
                        throw AuditWalk.Finding(
                            sequence: error.firstSequence,
                            reason: "\(error.description) (the stored records were edited)")
                    }
                    guard let (batch, lastSegment) = next, let first = batch.first, let last = batch.last else {
                        // Checkpoints stored since the last records were read may cover the last of them.
                        while let stored = try await self.nextCheckpoint(
                            &cursor, of: chain, upTo: walk.sequence, store: store)
                        {
                            try await self.take(
                                stored, recordHash: stored.sequence == walk.sequence ? walk.hash : nil, &cursor, &walk,
                                anchors)
                        }
                        if !cursor.pending.isEmpty, !recheckedEnd {
                            recheckedEnd = true
                            continue
                        }
                        break
                    }
                    recheckedEnd = false
                    if let failure = AuditChain.firstBreak(in: batch, after: (walk.sequence, walk.hash)) {
                        walk.records += Int64(batch.firstIndex { $0.sequence == failure.sequence } ?? 0)
                        throw AuditWalk.Finding(sequence: failure.sequence, reason: failure.reason)
                    }
                    if let head, let atHead = batch.first(where: { $0.sequence == head.sequence }),
                        atHead.hash != head.hash
                    {
                        throw AuditWalk.Finding(
                            sequence: head.sequence,
                            reason: "it is not the record the chain's head names (the chain was rewritten from here)")
                    }
                    // The batch's records are consecutive (firstBreak): a checkpoint's is found by its sequence.
                    while let stored = try await self.nextCheckpoint(
                        &cursor, of: chain, upTo: last.sequence, store: store)
                    {
                        let recordHash =
                            stored.sequence >= first.sequence
                            ? batch[Int(stored.sequence - first.sequence)].hash
                            : (stored.sequence == walk.sequence ? walk.hash : nil)
                        try await self.take(stored, recordHash: recordHash, &cursor, &walk, anchors)
                    }
                    walk.records += Int64(batch.count)
                    walk.segment = lastSegment
                    progressed = true
                    (walk.sequence, walk.hash) = (last.sequence, last.hash)
                }
                // The chain's end: every check that needs all of it.
                if let beyond = cursor.pending.first {
                    try await self.verifyCheckpointMACs(&cursor, &walk)
                    let removed = walk.sequence == 0 ? " (all of them: the chain was removed)" : ""
                    throw AuditWalk.Finding(
                        sequence: beyond.sequence,
                        reason:
                            "checkpoint \(beyond.number) covers record \(beyond.sequence), but the chain ends at "
                            + "\(walk.sequence): records were deleted from its end\(removed)"
                    )
                }
                try await self.verifyCheckpointMACs(&cursor, &walk)
                if walk.unverifiedFrom > 0 {
                    throw AuditWalk.Finding(
                        sequence: walk.checkpointSequence,
                        reason:
                            "checkpoints from \(walk.unverifiedFrom) on were made under a root key kms-cryptod does "
                            + "not hold (retired, or the rows were forged), and no later one vouches for them"
                    )
                }
                guard let head else {
                    throw AuditWalk.Finding(
                        sequence: walk.sequence,
                        reason: "the chain has records or checkpoints but no head row (it was deleted)")
                }
                // Records appended during the walk lie past the head read before it; none may be missing before it.
                if walk.sequence < head.sequence {
                    throw AuditWalk.Finding(
                        sequence: walk.sequence + 1,
                        reason:
                            "the chain ends at \(walk.sequence) but its head is at \(head.sequence) (records were "
                            + "deleted from its end)"
                    )
                }
                if head.checkpoint > walk.checkpoint {
                    throw AuditWalk.Finding(
                        sequence: head.checkpointSequence,
                        reason:
                            "its head row names checkpoint \(head.checkpoint), but its checkpoints end at "
                            + "\(walk.checkpoint) (checkpoints were deleted)"
                    )
                }
                if let seen = anchors[chain]?.keys.max(), seen > walk.checkpoint {
                    throw AuditWalk.Finding(
                        sequence: walk.sequence,
                        reason:
                            "checkpoint \(seen), which an earlier verification saw, is gone: its checkpoints end at "
                            + "\(walk.checkpoint) (the chain was cut back or replaced)"
                    )
                }
            } catch let finding as AuditWalk.Finding {
                return broken(chain, finding.sequence, finding.reason)
            } catch let error as KMSError {
                throw error
            } catch {
                throw KMSError.internalFailure("the audit log could not be verified; retry later")
            }
            response.chains.append(walk.report)
            walk.chains += 1
        }
        let names = Set(all.map(\.chain))
        if let gone = anchors.keys.filter({ !names.contains($0) }).min(by: {
            $0.utf8.lexicographicallyPrecedes($1.utf8)
        }) {
            return broken(gone, 0, "an earlier verification saw this chain, and it is gone (it was removed)")
        }
        response.intact = true
        return report()
    }

    /// The checkpoints an earlier verification saw, by chain and number: their MACs.
    static func anchors(_ expected: [AdminAuditCheckpointAnchor]) throws(KMSError) -> [String: [Int64: [UInt8]]] {
        guard expected.count <= 10_000 else { throw .validation("ExpectedCheckpoints holds at most 10000 checkpoints") }
        var anchors: [String: [Int64: [UInt8]]] = [:]
        for anchor in expected {
            guard AuditStore.isValidChain(anchor.chainID), anchor.number >= 1, anchor.mac.utf8.count == 64,
                let mac = Hex.decode(anchor.mac)
            else {
                throw .validation(
                    "each of ExpectedCheckpoints needs a ChainId, a Number of at least 1 and a Mac of 64 hex digits")
            }
            anchors[anchor.chainID, default: [:]][anchor.number] = mac
        }
        return anchors
    }

    /// The chain's next stored checkpoint if it covers a record up to `sequence` (reading the
    /// next page when the last is used up).
    private func nextCheckpoint(
        _ cursor: inout CheckpointCursor, of chain: String, upTo sequence: Int64, store: any AuditReading
    ) async throws(KMSError) -> AuditStore.Checkpoint? {
        if cursor.pending.isEmpty, !cursor.exhausted {
            let after = cursor.read
            let page = try await self.store {
                try await store.checkpoints(of: chain, after: after, limit: CheckpointCursor.page)
            }
            cursor.pending = page
            cursor.exhausted = page.count < CheckpointCursor.page
            if let last = page.last { cursor.read = last.number }
        }
        guard let next = cursor.pending.first, next.sequence <= sequence else { return nil }
        cursor.pending.removeFirst()
        return next
    }

    /// Takes a checkpoint into the walk, its MAC to be verified with the next batch of them. On a
    /// finding, the MACs taken before it are verified first: the first finding is the one named.
    private func take(
        _ stored: AuditStore.Checkpoint, recordHash: [UInt8]?, _ cursor: inout CheckpointCursor,
        _ walk: inout AuditWalk,
        _ anchors: [String: [Int64: [UInt8]]]
    ) async throws {
        do {
            cursor.unverified.append(
                try walk.take(stored, recordHash: recordHash, anchor: anchors[stored.chain]?[stored.number]))
        } catch {
            try await self.verifyCheckpointMACs(&cursor, &walk)
            throw error
        }
        if cursor.unverified.count >= CheckpointCursor.perVerify { try await self.verifyCheckpointMACs(&cursor, &walk) }
    }

    /// Has kms-cryptod check the MACs of the checkpoints taken since the last call. Without it
    /// nothing can be verified: that fails the call (retryable), it is not a finding.
    private func verifyCheckpointMACs(_ cursor: inout CheckpointCursor, _ walk: inout AuditWalk) async throws {
        guard !cursor.unverified.isEmpty else { return }
        var request = WorkerVerifyAuditCheckpointsRequest()
        request.checkpoints = cursor.unverified
        cursor.unverified = []
        let verdicts = try await self.worker.call(WorkerMethod.verifyAuditCheckpoints, request).verdicts
        guard verdicts.count == request.checkpoints.count else {
            throw KMSError.internalFailure(
                "kms-cryptod answered \(verdicts.count) checkpoint verdicts for \(request.checkpoints.count)")
        }
        for (verdict, checked) in zip(verdicts, request.checkpoints) {
            try walk.apply(verdict, to: checked)
        }
    }
}

/// A ListAuditRecords page as it fills: records up to the limit and the byte budget (each
/// record's size plus its field's tag and length; the first always goes in).
struct AuditPage {
    let limit: Int
    let bytes: Int
    var records: [AdminAuditRecord] = []
    var used = 0
    /// Set once a record did not fit: where the next page starts (after the last one taken).
    var next: AuditStore.Marker?
    var last: AuditStore.Marker?

    init(limit: Int, bytes: Int) {
        self.limit = limit
        self.bytes = bytes
    }

    /// Takes what fits of `batch`; false once full.
    mutating func take(_ batch: [AuditStore.Listed]) -> Bool {
        for listed in batch {
            let message = AdminAuditRecord(listed.record)
            let size = ((try? message.serializedBytes() as [UInt8])?.count ?? 0) + 8
            if self.records.count == self.limit || (self.used + size > self.bytes && !self.records.isEmpty) {
                self.next = self.last
                return false
            }
            self.records.append(message)
            self.used += size
            self.last = listed.marker
        }
        return true
    }
}

extension AdminAuditRecord {
    init(_ record: AuditRecord) {
        self.init()
        self.sequence = record.sequence
        self.eventTime = Google_Protobuf_Timestamp(date: record.entry.time)
        self.requestID = record.entry.requestID
        self.principalArn = record.entry.principalARN
        self.accessKeyID = record.entry.accessKeyID ?? ""
        self.sourceIp = record.entry.sourceIP ?? ""
        self.transport = record.entry.transport
        self.operation = record.entry.operation
        self.keyArns = record.entry.keyARNs
        self.alias = record.entry.alias ?? ""
        self.encryptionContext = record.entry.encryptionContext ?? [:]
        self.grantID = record.entry.grantID ?? ""
        self.errorCode = record.entry.errorCode ?? ""
        self.hash = Hex.encode(record.hash)
        self.chainID = record.chain
    }
}
