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
        var after: Int64 = 0
        if !request.marker.isEmpty {
            guard let value = Int64(request.marker), value >= 0 else { throw KMSError(.invalidMarker, "The marker is not one this operation returned.") }
            after = value
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
        for record in page.prefix(limit) {
            let message = AdminAuditRecord(record)
            let size = (try? message.serializedBytes() as [UInt8])?.count ?? 0
            if bytes + size > 48 * 1024, !response.records.isEmpty { break }
            bytes += size + 8
            response.records.append(message)
        }
        if page.count > response.records.count, let last = response.records.last { response.nextMarker = String(last.sequence) }
        return response
    }

    func verifyAuditLog(_ request: AdminVerifyAuditLogRequest, caller: Caller) async throws(KMSError) -> AdminVerifyAuditLogResponse {
        try Self.requireAdmin(caller, "VerifyAuditLog")
        let store = AuditStore(client: self.client, logger: self.logger)
        var previous: (sequence: Int64, hash: [UInt8]) = (0, AuditChain.genesis)
        var checked: Int64 = 0
        var segment = Int64.min
        var response = AdminVerifyAuditLogResponse()
        while true {
            // An unreadable segment is a finding, not a failure of the walk.
            let read: Result<(records: [AuditRecord], lastSegment: Int64)?, AuditSegment.Unreadable> = try await self.store {
                do {
                    return .success(try await store.chain(afterSegment: segment, segments: 16))
                } catch let error as AuditSegment.Unreadable {
                    return .failure(error)
                }
            }
            let next: (records: [AuditRecord], lastSegment: Int64)?
            switch read {
            case .success(let value): next = value
            case .failure(let error):
                response.recordsChecked = checked
                response.intact = false
                response.firstBrokenSequence = error.firstSequence
                response.reason = "record \(error.firstSequence): \(error.description) (the stored records were edited)"
                return response
            }
            guard let (batch, lastSegment) = next else { break }
            if let broken = AuditChain.firstBreak(in: batch, after: previous) {
                response.recordsChecked = checked + Int64(batch.firstIndex { $0.sequence == broken.sequence } ?? 0)
                response.intact = false
                response.firstBrokenSequence = broken.sequence
                response.reason = "record \(broken.sequence): \(broken.reason)"
                return response
            }
            checked += Int64(batch.count)
            segment = lastSegment
            if let last = batch.last { previous = (last.sequence, last.hash) }
        }
        response.recordsChecked = checked
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
    }
}
