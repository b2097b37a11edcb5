import Foundation
import KMSDomain
import KMSProto
import KMSStore
import SwiftProtobuf

extension KMSService {
    /// The key's last successful cryptographic operation: this kmsd's memory or the database,
    /// whichever is later (other replicas' uses arrive with their next flush).
    func getKeyLastUsage(_ request: KMSGetKeyLastUsageRequest, caller: Caller) async throws(KMSError)
        -> KMSGetKeyLastUsageResponse
    {
        let key = try await self.resolve(request.keyID, for: caller)
        try self.authorize(caller, action: "GetKeyLastUsage", key: key)
        let stored = try await self.store { try await self.stores.lastUsage.lastUse(keyID: key.record.keyID) }
        let local = self.lastUsage.latest(keyID: key.record.keyID)
        let last = [stored, local].compactMap { $0 }.max { $0.date < $1.date }
        let trackingStart =
            try await self.store { try await self.stores.lastUsage.trackingStart() } ?? key.record.creationDate
        var response = KMSGetKeyLastUsageResponse()
        response.keyID = key.record.arn
        response.keyCreationDate = Google_Protobuf_Timestamp(date: key.record.creationDate)
        response.trackingStartDate = Google_Protobuf_Timestamp(date: max(trackingStart, key.record.creationDate))
        if let last {
            response.keyLastUsage.operation = KMSKeyLastUsageTrackingOperation(awsName: last.operation) ?? .unspecified
            response.keyLastUsage.timestamp = Google_Protobuf_Timestamp(date: last.date)
            response.keyLastUsage.kmsRequestID = last.requestID
            // The audit log is this service's CloudTrail: its record of the use carries the same id.
            response.keyLastUsage.cloudTrailEventID = last.requestID
        }
        return response
    }
}
