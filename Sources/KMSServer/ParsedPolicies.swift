import KMSDomain
import KMSPolicy
import Synchronization

/// Policies parsed once per text and shared by every key and principal that holds that text.
///
/// Most keys of an account carry the same policy (the default one, or the one template an
/// infrastructure tool writes), yet each key read from the database parsed its own: a parsed
/// document and a copy of its text per cached key (about 0.7-0.9 KiB of kmsd's memory per key
/// with the default policy) and a parse on every cache miss. A document depends on nothing but its
/// text and kind, so sharing it can never be stale; nothing here needs invalidating.
public final class ParsedPolicies: Sendable {
    /// Most texts remembered, and most bytes of text; past either the map starts again (keys
    /// already cached keep the documents they hold, later ones parse again).
    static let capacity = 1_024
    static let textBudget = 4 << 20

    private struct Entry: Sendable {
        let text: String
        let document: PolicyDocument
    }

    private struct Texts: Sendable {
        var resource: [String: Entry] = [:]
        var identity: [String: Entry] = [:]
        var bytes = 0
    }

    private let known = Mutex(Texts())

    /// An empty map.
    public init() {}

    /// `text` parsed as a policy of `kind`, and `text` itself as held here (equal, but sharing the
    /// storage of the first copy seen, so that a key that keeps it keeps no copy of its own).
    /// Throws MalformedPolicyDocumentException as `PolicyDocument.parse` does; a failure is not
    /// remembered.
    public func parse(_ text: String, kind: PolicyDocument.Kind) throws(KMSError) -> (
        text: String, document: PolicyDocument
    ) {
        let table: WritableKeyPath<Texts, [String: Entry]> = kind == .resource ? \.resource : \.identity
        if let known = self.known.withLock({ $0[keyPath: table][text] }) { return (known.text, known.document) }
        // Parsed outside the lock: two requests missing the same text at once both parse it.
        let entry = Entry(text: text, document: try PolicyDocument.parse(text, kind: kind))
        let kept = self.known.withLock { known -> Entry in
            if let raced = known[keyPath: table][text] { return raced }
            let size = text.utf8.count
            if known.resource.count + known.identity.count >= Self.capacity || known.bytes + size > Self.textBudget {
                known = Texts()
            }
            known[keyPath: table][text] = entry
            known.bytes += size
            return entry
        }
        return (kept.text, kept.document)
    }

    /// A stored policy of `kind`, shared: see `unshared`.
    func stored(_ text: String, kind: PolicyDocument.Kind) -> (text: String, document: PolicyDocument) {
        do {
            return try self.parse(text, kind: kind)
        } catch {
            return (text, Self.denyAll(kind))
        }
    }

    /// A stored policy of `kind` parsed for one holder alone. Policies are validated before they
    /// are stored; one that no longer parses (a newer grammar, a hand-edited row) denies
    /// everything, since dropping it could drop its Deny.
    static func unshared(_ text: String, kind: PolicyDocument.Kind) -> PolicyDocument {
        (try? PolicyDocument.parse(text, kind: kind)) ?? Self.denyAll(kind)
    }

    private static func denyAll(_ kind: PolicyDocument.Kind) -> PolicyDocument {
        kind == .resource ? StoredPolicy.denyAllResource : StoredPolicy.denyAllIdentity
    }

    /// How many texts are held, for tests.
    var count: Int { self.known.withLock { $0.resource.count + $0.identity.count } }
}
