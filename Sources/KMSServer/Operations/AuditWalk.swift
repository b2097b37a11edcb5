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
        "v1/\(self.chain)/\(self.segment)/\(self.sequence)/\(hex(self.hash))/\(self.records)/\(self.chains)"
    }

    init?(marker: String) {
        let parts = marker.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 7, parts[0] == "v1", AuditStore.isValidChain(parts[1]),
              let segment = Int64(parts[2]), let sequence = Int64(parts[3]), sequence >= 0,
              parts[4].utf8.count == 64, let hash = SigV4.decodeHex(parts[4]),
              let records = Int64(parts[5]), records >= 0, let chains = Int64(parts[6]), chains >= 0
        else { return nil }
        (self.chain, self.segment, self.sequence, self.hash, self.records, self.chains) = (parts[1], segment, sequence, hash, records, chains)
    }
}
