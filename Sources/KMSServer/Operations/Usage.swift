import Foundation
import KMSDomain
import KMSProto
import KMSStore
import SwiftProtobuf

extension KMSService {
    /// Requests by key and operation over a period, and their cost and the keys' at AWS list prices.
    func getUsage(_ request: AdminGetUsageRequest, caller: Caller) async throws(KMSError) -> AdminGetUsageResponse {
        try Self.requireAdmin(caller, "GetUsage")
        let account = request.accountID.isEmpty ? caller.account : request.accountID
        guard AccountRecord.isValidID(account) else { throw .validation("AccountId must be 12 digits") }
        let to = request.hasEndTime ? request.endTime.date : self.now()
        let from = request.hasStartTime ? request.startTime.date : to.addingTimeInterval(-30 * 86400)
        guard from < to else { throw .validation("StartTime must be before EndTime") }
        let keyARN = request.keyArn.isEmpty ? nil : request.keyArn
        // This kmsd's counts not yet written are part of the answer.
        await self.usage.flush()
        let totals = try await self.store {
            try await self.stores.usage.totals(account: account, keyARN: keyARN, from: from, to: to)
        }
        let billing = self.stores.billing
        let keys = try await self.store { try await billing.keys(account: account, from: from) }
        let specs = Dictionary(keys.map { ($0.arn, $0.spec) }, uniquingKeysWith: { first, _ in first })

        var response = AdminGetUsageResponse()
        var perKey: [String: Int64] = [:]
        for (key, count) in totals.sorted(by: { ($0.key.keyARN, $0.key.operation) < ($1.key.keyARN, $1.key.operation) })
        {
            var line = AdminUsageLine()
            line.keyArn = key.keyARN
            line.operation = key.operation
            line.requests = count.requests
            line.failed = count.failed
            line.cost = Double(count.requests) * Pricing.perRequest(specs[key.keyARN])
            response.requestCost += line.cost
            response.requests.append(line)
            if !key.keyARN.isEmpty { perKey[key.keyARN, default: 0] += count.requests }
        }
        for key in keys where keyARN == nil || key.arn == keyARN {
            var charge = AdminKeyCharge()
            charge.keyArn = key.arn
            charge.keyManager = key.manager.rawValue
            charge.deleted = key.deleted
            charge.hours = Pricing.keyHours(created: key.creationDate, deleted: key.billedUntil, from: from, to: to)
            charge.rotatedMaterialHours = Pricing.rotationHours(
                key.rotationDates, billedUntil: key.billedUntil, from: from, to: to)
            charge.cost =
                key.manager == .customer ? Pricing.keyCost(hours: charge.hours + charge.rotatedMaterialHours) : 0
            response.keyCost += charge.cost
            response.keys.append(charge)
        }
        if request.cacheSeconds > 0 {
            let seconds = Int(request.cacheSeconds)
            let estimate = try await self.store {
                try await billing.cacheEstimate(
                    account: account, keyARN: keyARN, from: from, to: to, cacheSeconds: seconds)
            }
            for line in estimate {
                var entry = AdminCacheEstimate()
                entry.keyArn = line.keyARN
                entry.operation = line.operation
                entry.requests = line.requests
                entry.requestsWithCache = line.withCache
                entry.savedCost = Double(line.requests - line.withCache) * Pricing.perRequest(specs[line.keyARN])
                response.cacheSavings += entry.savedCost
                response.cacheEstimates.append(entry)
            }
        }
        response.totalCost = response.requestCost + response.keyCost
        if let busiest = perKey.max(by: { $0.value < $1.value }) {
            response.busiestKeyArn = busiest.key
            response.busiestKeyRequests = busiest.value
        }
        return response
    }
}
