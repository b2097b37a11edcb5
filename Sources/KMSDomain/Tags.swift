/// Key tags as AWS allows them: keys of 1..128 and values of 0..256 characters, at most 50 per
/// key, the `aws:` prefix reserved. Failures are TagException, as AWS answers them.
public enum Tags {
    /// At most this many tags per key, as AWS allows.
    public static let maximumPerKey = 50

    /// Checks a request's tags: each key as `checkKey(_:)`, values up to 256 characters, no key twice, at most
    /// `maximumPerKey`. Throws TagException, or LimitExceededException when there are too many.
    public static func check(_ tags: [(key: String, value: String)]) throws(KMSError) {
        var seen = Set<String>()
        for (key, value) in tags {
            try checkKey(key)
            guard value.count <= 256 else {
                throw KMSError(.tag, "Tag value for key '\(key.prefix(128))' must be at most 256 characters.")
            }
            guard seen.insert(key).inserted else {
                throw KMSError(.tag, "Duplicate tag keys")
            }
        }
        guard tags.count <= maximumPerKey else {
            throw KMSError(
                .limitExceeded, "A key can have at most \(maximumPerKey) tags; the request has \(tags.count).")
        }
    }

    /// Checks one tag key: 1 to 128 characters, not starting with `aws:` (any case); throws TagException otherwise.
    public static func checkKey(_ key: String) throws(KMSError) {
        guard (1...128).contains(key.count) else {
            throw KMSError(.tag, "Tag keys must be 1 to 128 characters; '\(key.prefix(128))' is \(key.count).")
        }
        guard !key.lowercased().hasPrefix("aws:") else {
            throw KMSError(.tag, "Tags beginning with aws: are reserved")
        }
    }
}
