import KMSDomain
import KMSPolicy
import Synchronization

/// The default key policy of each account, as text and parsed, made once: CreateKey without a
/// policy (the usual call) built the text and parsed it per key, 5.5 % of kmsd's CPU under a
/// CreateKey load (perf, 4 x 16), about half of the operation's own work.
final class DefaultPolicies: Sendable {
    /// Most accounts remembered; past it the map starts again (a kmsd serving that many
    /// accounts' CreateKeys parses a policy per account per round, as it did per key before).
    static let capacity = 1_024

    private let partition: String
    private let parsed: ParsedPolicies
    private let known = Mutex([String: (text: String, document: PolicyDocument)]())

    /// `parsed` holds the documents, so that keys read back from the database share the one made here.
    init(partition: String, parsed: ParsedPolicies) {
        self.partition = partition
        self.parsed = parsed
    }

    /// `account`'s default key policy (DefaultKeyPolicy), and its parse.
    func policy(of account: String) throws(KMSError) -> (text: String, document: PolicyDocument) {
        if let known = self.known.withLock({ $0[account] }) { return known }
        let text = DefaultKeyPolicy.document(partition: self.partition, account: account)
        let made = try self.parsed.parse(text, kind: .resource)
        self.known.withLock { known in
            if known.count >= Self.capacity { known.removeAll(keepingCapacity: true) }
            known[account] = made
        }
        return made
    }
}
