/// What a request's KeyId names: a key id, a key ARN, an alias name or an alias ARN. Parsed in
/// this one place; resolving it to a key (which needs the store) happens in one place in kmsd.
public enum KeyReference: Sendable, Hashable {
    case keyID(KeyID)
    case keyARN(KMSResourceARN)
    case aliasName(String)
    case aliasARN(KMSResourceARN)

    /// Which forms an operation accepts: most take all four, some (EnableKey, ScheduleKeyDeletion,
    /// ...) only a key id or key ARN, as AWS does.
    public enum Accepted: Sendable {
        case keyOrAlias
        case keyOnly
    }

    /// Parses a KeyId parameter. Key ids become `KeyID`s; throws ValidationException when `text` is empty or longer
    /// than 2048 bytes, InvalidArnException for a malformed ARN, NotFoundException when it is no key or alias
    /// reference or is an alias where `accepted` allows keys only. `field` names the parameter in messages.
    public static func parse(_ text: String, accepting accepted: Accepted = .keyOrAlias, field: String = "keyId")
        throws(KMSError) -> KeyReference
    {
        try Limits.check(text.utf8.count, in: 1...2048, field: field)
        let reference: KeyReference
        if text.hasPrefix("arn:") {
            guard let arn = KMSResourceARN(text) else {
                // AWS's exact text is not documented; the code is its model's InvalidArnException.
                throw KMSError(.invalidArn, "Invalid arn \(text.prefix(256))")
            }
            switch arn.resource {
            case .key: reference = .keyARN(arn)
            case .alias: reference = .aliasARN(arn)
            }
        } else if text.hasPrefix("alias/") {
            reference = .aliasName(text)
        } else if let id = KeyID(text) {
            reference = .keyID(id)
        } else {
            throw KMSError(.notFound, "Invalid keyId '\(text.prefix(256))'")
        }
        if accepted == .keyOnly, reference.isAlias {
            throw KMSError(.notFound, "\(field) must name a key by its id or ARN, not by an alias")
        }
        return reference
    }

    /// Whether it names an alias (by name or ARN) rather than a key.
    public var isAlias: Bool {
        switch self {
        case .aliasName, .aliasARN: return true
        case .keyID, .keyARN: return false
        }
    }
}
