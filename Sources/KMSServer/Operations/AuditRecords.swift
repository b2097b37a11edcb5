import Foundation
import KMSCrypto
import KMSDomain
import KMSProto
import KMSStore
import SwiftProtobuf

/// Reading the audit log (admins only): filtered pages, and a walk of the whole hash chain.
extension KMSService {
    /// How many segments one ListAuditRecords call reads at most: a rare filter over a long log
    /// returns a short (even empty) page and a marker rather than outliving the client's timeout.
    static let auditSegmentsPerPage = 20_000

    func listAuditRecords(_ request: AdminListAuditRecordsRequest, caller: Caller) async throws(KMSError) -> AdminListAuditRecordsResponse {
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
        let store = AuditStore(client: self.client, logger: self.logger)
        let page = try await self.store { try await store.list(filter, after: after, limit: limit + 1, maxSegments: Self.auditSegmentsPerPage) }
        var response = AdminListAuditRecordsResponse()
        // A page also ends before it would outgrow a frame (48 KiB of records).
        var bytes = 0
        var next: AuditStore.Marker?
        for listed in page.records.prefix(limit) {
            let message = AdminAuditRecord(listed.record)
            let size = (try? message.serializedBytes() as [UInt8])?.count ?? 0
            if bytes + size > 48 * 1024, !response.records.isEmpty { break }
            bytes += size + 8
            response.records.append(message)
            next = listed.marker
        }
        if page.records.count > response.records.count, let next {
            response.nextMarker = next.description
        } else if let resume = page.resume {
            // Fewer records than asked for, and more of the log to read: the caller goes on.
            response.nextMarker = resume.description
        }
        return response
    }

    /// Walks every chain from its first record: each must link to the one before it and match
    /// its hash, and the chain must reach its head row (records deleted from its end show). A
    /// call stops after about 3 s (or `max_records`) with a marker to go on from, so that a
    /// log of any size is verified in calls that each end well within a client's timeout.
    func verifyAuditLog(_ request: AdminVerifyAuditLogRequest, caller: Caller) async throws(KMSError) -> AdminVerifyAuditLogResponse {
        try Self.requireAdmin(caller, "VerifyAuditLog")
        guard request.maxRecords >= 0 else { throw .validation("MaxRecords must not be negative") }
        var walk = AuditWalk()
        if !request.marker.isEmpty {
            guard let resumed = AuditWalk(marker: request.marker) else {
                throw KMSError(.invalidMarker, "The marker is not one this operation returned.")
            }
            walk = resumed
        }
        let deadline = ContinuousClock.now + .seconds(3)
        let budget = request.maxRecords > 0 ? walk.records + request.maxRecords : Int64.max
        let store = AuditStore(client: self.client, logger: self.logger)
        var response = AdminVerifyAuditLogResponse()
        func report() -> AdminVerifyAuditLogResponse {
            response.recordsChecked = walk.records
            response.chainsChecked = walk.chains
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
        let chains = try await self.store { try await store.chains() }
            .sorted { $0.chain.utf8.lexicographicallyPrecedes($1.chain.utf8) }
            .filter { !$0.chain.utf8.lexicographicallyPrecedes(walk.chain.utf8) }
        // Each call checks at least one batch, so a caller that follows the markers always ends.
        var progressed = false
        for (chain, head) in chains {
            if chain != walk.chain { walk.start(chain) }
            while true {
                if progressed, walk.records >= budget || ContinuousClock.now >= deadline {
                    response.intact = true
                    response.nextMarker = walk.marker
                    return report()
                }
                // An unreadable segment is a finding, not a failure of the walk.
                let segment = walk.segment
                let segments = Int(max(1, min(16, budget - walk.records)))
                let read: Result<(records: [AuditRecord], lastSegment: Int64)?, AuditSegment.Unreadable> = try await self.store {
                    do {
                        return .success(try await store.walk(chain: chain, afterSegment: segment, segments: segments))
                    } catch let error as AuditSegment.Unreadable {
                        return .failure(error)
                    }
                }
                let next: (records: [AuditRecord], lastSegment: Int64)?
                switch read {
                case .success(let value): next = value
                case .failure(let error): return broken(chain, error.firstSequence, "\(error.description) (the stored records were edited)")
                }
                guard let (batch, lastSegment) = next else { break }
                if let failure = AuditChain.firstBreak(in: batch, after: (walk.sequence, walk.hash)) {
                    walk.records += Int64(batch.firstIndex { $0.sequence == failure.sequence } ?? 0)
                    return broken(chain, failure.sequence, failure.reason)
                }
                if let head, let atHead = batch.first(where: { $0.sequence == head.sequence }), atHead.hash != head.hash {
                    return broken(chain, head.sequence, "it is not the record the chain's head names (the chain was rewritten from here)")
                }
                walk.records += Int64(batch.count)
                walk.segment = lastSegment
                progressed = true
                if let last = batch.last { (walk.sequence, walk.hash) = (last.sequence, last.hash) }
            }
            // Records appended during the walk lie past the head read before it; none may be missing before it.
            if let head, walk.sequence < head.sequence {
                return broken(chain, walk.sequence + 1, "the chain ends at \(walk.sequence) but its head is at \(head.sequence) (records were deleted from its end)")
            }
            walk.chains += 1
        }
        response.intact = true
        return report()
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
        self.hash = hex(record.hash)
        self.chainID = record.chain
    }
}
