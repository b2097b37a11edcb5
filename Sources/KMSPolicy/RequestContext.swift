import struct Foundation.Date

/// What a policy is evaluated against: who asks, for what, on which resource, and the
/// condition keys of the request (names compared without regard to case, as IAM does).
public struct RequestContext: Sendable {
    /// The caller's principal ARN, compared exactly with the ARNs Principal elements name.
    public var principalARN: String
    /// Set when the caller is an AWS service principal (e.g. "kms.amazonaws.com").
    public var service: String?
    /// "kms:Encrypt".
    public var action: String {
        didSet { self.foldedAction = self.action.lowercased() }
    }
    /// `action` lowercased once, for the Action patterns (which ignore case) of every statement.
    private(set) var foldedAction: String
    /// The key ARN, or "*" for operations on no key.
    public var resource: String
    private var values: [String: [String]] = [:]

    /// A context with no condition keys yet; `resource` is "*" for operations on no key.
    public init(principalARN: String, action: String, resource: String, service: String? = nil) {
        self.principalARN = principalARN
        self.action = action
        self.foldedAction = action.lowercased()
        self.resource = resource
        self.service = service
    }

    /// The same, with `action` already lowercased (`foldedAction`) by a caller that keeps both
    /// forms of the actions it uses: lowercasing costs an allocation a request otherwise.
    public init(principalARN: String, action: String, foldedAction: String, resource: String, service: String? = nil) {
        assert(foldedAction == action.lowercased(), "foldedAction must be action lowercased")
        self.principalARN = principalARN
        self.action = action
        self.foldedAction = foldedAction
        self.resource = resource
        self.service = service
    }

    /// Sets a single- or multi-valued condition key. Numbers, booleans and dates are given in
    /// their policy string forms ("42", "true", ISO 8601).
    public mutating func set(_ key: String, _ values: [String]) {
        self.values[key.lowercased()] = values
    }

    /// Sets a single-valued condition key.
    public mutating func set(_ key: String, _ value: String) {
        self.set(key, [value])
    }

    /// Sets a Bool condition key as "true" or "false".
    public mutating func set(_ key: String, _ value: Bool) {
        self.set(key, [value ? "true" : "false"])
    }

    /// Sets a Date condition key as seconds since 1970, a form the Date operators accept.
    public mutating func set(_ key: String, _ date: Date) {
        self.set(key, [String(date.timeIntervalSince1970)])
    }

    /// The encryption context as kms:EncryptionContext:<key> and kms:EncryptionContextKeys.
    public mutating func setEncryptionContext(_ context: [String: String]) {
        self.setPrefixed("kms:EncryptionContext:", context)
        self.set("kms:EncryptionContextKeys", context.keys.sorted())
    }

    /// One condition key `prefix + key` per pair ("aws:ResourceTag/" and a key's tags, say).
    /// Pairs whose keys differ only by case are distinct in KMS but name the same condition key
    /// in IAM, so they become one multi-valued key holding all their values; setting them one
    /// by one would keep whichever the dictionary listed last, which differs from run to run.
    public mutating func setPrefixed(_ prefix: String, _ pairs: [String: String]) {
        var merged: [String: [String]] = [:]
        for (key, value) in pairs { merged[(prefix + key).lowercased(), default: []].append(value) }
        for (name, values) in merged { self.values[name] = values.count == 1 ? values : values.sorted() }
    }

    func value(_ key: String) -> [String]? {
        self.values[key.lowercased()]
    }
}
