import Foundation
import KMSDomain

/// GetUsage's cache estimate, tallied from audit records as they are read: per key and
/// operation, the successful data-key and Decrypt calls on the account's keys, and how many
/// would remain if each principal cached what it got for `cacheSeconds` (calls with the same
/// principal and encryption context in the same window count once). Every store that reads the
/// audit log (PostgreSQL's, the tests' in-memory one) tallies with this one type.
public struct CacheEstimate: Sendable {
    /// The operations whose results a caller could cache.
    public static let operations = ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "Decrypt"]

    struct Line: Hashable { var keyARN: String, operation: String }
    struct Cached: Hashable { var principal: String, context: [String: String]?, window: Int64 }

    let account: String
    let window: Double
    var requests: [Line: Int64] = [:]
    var distinct: [Line: Set<Cached>] = [:]

    /// An empty tally for `account`'s keys, with caching for `cacheSeconds` (at least 1).
    public init(account: String, cacheSeconds: Int) {
        self.account = account
        self.window = Double(max(cacheSeconds, 1))
    }

    /// Counts `records` (those of other operations, failed ones and other accounts' keys are
    /// passed over).
    public mutating func add(_ records: some Sequence<AuditRecord>) {
        for record in records where record.entry.errorCode == nil {
            guard Self.operations.contains(record.entry.operation), let arn = record.entry.keyARNs.first,
                KMSResourceARN(arn)?.account == self.account
            else { continue }
            let line = Line(keyARN: arn, operation: record.entry.operation)
            self.requests[line, default: 0] += 1
            let slot = Int64((record.entry.time.timeIntervalSince1970 / self.window).rounded(.down))
            self.distinct[line, default: []].insert(
                Cached(principal: record.entry.principalARN, context: record.entry.encryptionContext, window: slot))
        }
    }

    /// Per key and operation, in key ARN then operation order: the calls, and how many with caching.
    public var lines: [(keyARN: String, operation: String, requests: Int64, withCache: Int64)] {
        self.requests.keys.sorted { ($0.keyARN, $0.operation) < ($1.keyARN, $1.operation) }.map { line in
            (line.keyARN, line.operation, self.requests[line] ?? 0, Int64(self.distinct[line]?.count ?? 0))
        }
    }
}
