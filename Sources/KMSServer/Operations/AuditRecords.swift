import Foundation
import KMSCrypto
import KMSDomain
import KMSProto
import KMSStore
import SwiftProtobuf

/// Reading the audit log (admins only): filtered pages, and a walk of the whole hash chain.
extension KMSService {
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
        let page = try await self.store { try await store.list(filter, after: after, limit: limit + 1) }
        var response = AdminListAuditRecordsResponse()
        // A page also ends before it would outgrow a frame (48 KiB of records).
        var bytes = 0
        var next: AuditStore.Marker?
        for listed in page.prefix(limit) {
            let message = AdminAuditRecord(listed.record)
            let size = (try? message.serializedBytes() as [UInt8])?.count ?? 0
            if bytes + size > 48 * 1024, !response.records.isEmpty { break }
            bytes += size + 8
            response.records.append(message)
            next = listed.marker
        }
        if page.count > response.records.count, let next { response.nextMarker = next.description }
        return response
    }

    /// Walks every chain from its first record: each must link to the one before it and match
    /// its hash, and the chain must reach its head row (records deleted from its end show).
    func verifyAuditLog(_ request: AdminVerifyAuditLogRequest, caller: Caller) async throws(KMSError) -> AdminVerifyAuditLogResponse {
        try Self.requireAdmin(caller, "VerifyAuditLog")
        let store = AuditStore(client: self.client, logger: self.logger)
        var response = AdminVerifyAuditLogResponse()
        func broken(_ chain: String, _ sequence: Int64, _ reason: String) -> AdminVerifyAuditLogResponse {
            response.intact = false
            response.firstBrokenChain = chain
            response.firstBrokenSequence = sequence
            response.reason = "chain \(chain), record \(sequence): \(reason)"
            return response
        }
        for (chain, head) in try await self.store({ try await store.chains() }) {
            response.chainsChecked += 1
            var previous: (sequence: Int64, hash: [UInt8]) = (0, AuditChain.genesis)
            var segment = Int64.min
            while true {
                // An unreadable segment is a finding, not a failure of the walk.
                let read: Result<(records: [AuditRecord], lastSegment: Int64)?, AuditSegment.Unreadable> = try await self.store {
                    do {
                        return .success(try await store.walk(chain: chain, afterSegment: segment, segments: 16))
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
                if let failure = AuditChain.firstBreak(in: batch, after: previous) {
                    response.recordsChecked += Int64(batch.firstIndex { $0.sequence == failure.sequence } ?? 0)
                    return broken(chain, failure.sequence, failure.reason)
                }
                if let head, let atHead = batch.first(where: { $0.sequence == head.sequence }), atHead.hash != head.hash {
                    return broken(chain, head.sequence, "it is not the record the chain's head names (the chain was rewritten from here)")
                }
                response.recordsChecked += Int64(batch.count)
                segment = lastSegment
                if let last = batch.last { previous = (last.sequence, last.hash) }
            }
            // Records appended during the walk lie past the head read before it; none may be missing before it.
            if let head, previous.sequence < head.sequence {
                return broken(chain, previous.sequence + 1, "the chain ends at \(previous.sequence) but its head is at \(head.sequence) (records were deleted from its end)")
            }
        }
        response.intact = true
        return response
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
        self.hash = record.hash.map { String(format: "%02x", $0) }.joined()
        self.chainID = record.chain
    }
}
