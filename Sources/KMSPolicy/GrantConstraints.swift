/// A grant's encryption context constraints as AWS KMS reads them: the key of each pair ignores
/// case, the value does not ("in a grant constraint, the key in each key-value pair is not case
/// sensitive, but the value is case sensitive").
struct GrantConstraints {
    /// A pair with its key folded: what two constraint or context pairs are compared as.
    struct Pair: Hashable {
        let key: String
        let value: String
    }

    let equals: [String: String]?
    let subset: [String: String]?

    /// EncryptionContextEquals: the context has exactly the constraint's pairs (the same
    /// multiset of folded pairs, so two pairs whose keys differ only by case never count as one).
    /// EncryptionContextSubset: each of the constraint's pairs is in the context.
    func allow(_ context: [String: String]) -> Bool {
        if self.equals == nil, self.subset == nil { return true }
        let pairs = Self.pairs(context)
        if let equals = self.equals, Self.pairs(equals) != pairs { return false }
        if let subset = self.subset, !Self.contains(pairs, all: subset) { return false }
        return true
    }

    /// Whether every context these constraints allow, `parent` allows too: so a grant with
    /// these constraints may be created on the authority of a grant with `parent`'s.
    ///
    /// - A parent without constraints allows anything.
    /// - A child with EncryptionContextEquals E' allows only contexts equal to E' (up to key case):
    ///   the parent's Equals must be that same E', and the parent's Subset pairs must be in E'.
    /// - A child with only EncryptionContextSubset S' allows every context that holds S' and any
    ///   more pairs, so no parent Equals can hold; the parent's Subset pairs must be in S'.
    /// - A child with no constraint needs a parent with none.
    /// The child's own Subset beside its Equals only narrows it further and is not needed.
    func narrows(_ parent: GrantConstraints) -> Bool {
        if parent.equals == nil, parent.subset == nil { return true }
        if let equals = self.equals {
            let pairs = Self.pairs(equals)
            if let parentEquals = parent.equals, Self.pairs(parentEquals) != pairs { return false }
            if let parentSubset = parent.subset, !Self.contains(pairs, all: parentSubset) { return false }
            return true
        }
        guard parent.equals == nil, let subset = self.subset, let parentSubset = parent.subset else { return false }
        return Self.contains(Self.pairs(subset), all: parentSubset)
    }

    /// The pairs with folded keys, counted (a dictionary can hold "app" and "APP" both).
    static func pairs(_ map: [String: String]) -> [Pair: Int] {
        var counts: [Pair: Int] = [:]
        for (key, value) in map { counts[Pair(key: key.lowercased(), value: value), default: 0] += 1 }
        return counts
    }

    /// Whether every pair of `map` is among `pairs`.
    static func contains(_ pairs: [Pair: Int], all map: [String: String]) -> Bool {
        map.allSatisfy { pairs[Pair(key: $0.key.lowercased(), value: $0.value)] != nil }
    }
}

extension KeyAccess.GrantRule {
    /// Whether a grant with `operations` and these encryption context constraints may be
    /// created on the authority of this grant (CreateGrant called by this grant's grantee, with
    /// this grant allowing it): AWS allows such a grant only a subset of this grant's
    /// operations and constraints at least as strict as this grant's (see
    /// `GrantConstraints.narrows`), so that it never allows more than this grant does.
    ///
    /// False when this grant does not allow CreateGrant at all. The caller still checks the
    /// grant's other fields (grantee, retiring principal, key, name) as for any CreateGrant.
    public func permitsChild(
        operations: Set<String>, encryptionContextEquals: [String: String]?, encryptionContextSubset: [String: String]?
    ) -> Bool {
        guard self.operations.contains("CreateGrant"), operations.isSubset(of: self.operations) else { return false }
        let child = GrantConstraints(equals: encryptionContextEquals, subset: encryptionContextSubset)
        return child.narrows(
            GrantConstraints(equals: self.encryptionContextEquals, subset: self.encryptionContextSubset))
    }
}
