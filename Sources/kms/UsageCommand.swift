import ArgumentParser
import Foundation
import KMSProto
import KMSRPC

/// `kms usage`: requests by key and operation over a period, with their cost and the keys' at
/// AWS list prices, and the busiest key.
struct Usage: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Requests by key and operation, and what they and the keys would cost at AWS list prices.",
        discussion:
            "Prices: $1 per customer managed key-month (prorated by the hour; nothing while deletion is pending; the "
            + "first two rotations add one each), $0.03 per 10,000 symmetric or HMAC requests, $0.15 per 10,000 "
            + "asymmetric requests; no free tier. Keys deleted within the period are billed up to when their "
            + "deletion was scheduled."
    )
    static let method = AdminMethod.getUsage
    @OptionGroup var global: GlobalOptions
    @Option(help: "The account (default: yours).") var accountId: String?
    @Option(help: "Only this key ARN.") var keyArn: String?
    @Option(help: "From (ISO 8601; default 30 days ago).") var startTime: String?
    @Option(help: "Until (ISO 8601; default now).") var endTime: String?
    @Option(
        help:
            ArgumentHelp(
                "Also estimate, from the audit log, what a client-side data key cache of this many seconds (the AWS "
                    + "Encryption SDK's, say) would save on GenerateDataKey and Decrypt.")
    ) var cacheSeconds: Int?

    func members() throws -> [String: Any?] {
        let format = ISO8601DateFormatter()
        func epoch(_ text: String?, _ option: String) throws -> Double? {
            guard let text else { return nil }
            guard let date = format.date(from: text) else {
                throw ValidationError("\(option) must be ISO 8601, e.g. 2026-11-01T00:00:00Z")
            }
            return date.timeIntervalSince1970
        }
        return [
            "AccountId": accountId, "KeyArn": keyArn,
            "StartTime": try epoch(startTime, "--start-time"), "EndTime": try epoch(endTime, "--end-time"),
            "CacheSeconds": cacheSeconds,
        ]
    }
}
