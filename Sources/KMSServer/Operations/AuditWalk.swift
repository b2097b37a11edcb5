import Foundation
import KMSCrypto
import KMSStore

/// Where a verification has got to: the chain it walks, the last record it checked there (its
/// sequence and hash) and the segment it read last, and the totals so far. A marker carries
/// all of it, so kmsd keeps nothing between calls. (A forged marker only fools its own caller:
/// verification is for admins checking the log for themselves.)
struct AuditWalk {
    var chain = ""
    var segment = Int64.min
    var sequence: Int64 = 0
    var hash = AuditChain.genesis
    var records: Int64 = 0
    var chains: Int64 = 0

    init() {}

    mutating func start(_ chain: String) {
        self.chain = chain
        self.segment = .min
        self.sequence = 0
        self.hash = AuditChain.genesis
    }

    var marker: String {
        let hex = self.hash.map { String(format: "%02x", $0) }.joined()
        return "v1/\(self.chain)/\(self.segment)/\(self.sequence)/\(hex)/\(self.records)/\(self.chains)"
    }

    init?(marker: String) {
        let parts = marker.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 7, parts[0] == "v1", AuditStore.isValidChain(parts[1]),
              let segment = Int64(parts[2]), let sequence = Int64(parts[3]), sequence >= 0,
              parts[4].utf8.count == 64, let hash = Self.bytes(hex: parts[4]),
              let records = Int64(parts[5]), records >= 0, let chains = Int64(parts[6]), chains >= 0
        else { return nil }
        (self.chain, self.segment, self.sequence, self.hash, self.records, self.chains) = (parts[1], segment, sequence, hash, records, chains)
    }

    static func bytes(hex: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
