import KMSPolicy

// Interim: replaced by KMSPolicy's own when the policy engine's grant rules land.
extension KeyAccess.GrantRule {
    func permitsChild(operations: Set<String>, encryptionContextEquals: [String: String]?, encryptionContextSubset: [String: String]?) -> Bool {
        guard operations.isSubset(of: self.operations) else { return false }
        if let equals = self.encryptionContextEquals {
            return encryptionContextEquals == equals && encryptionContextSubset == nil
        }
        if let subset = self.encryptionContextSubset {
            if let childEquals = encryptionContextEquals { return subset.allSatisfy { childEquals[$0.key] == $0.value } }
            guard let childSubset = encryptionContextSubset else { return false }
            return subset.allSatisfy { childSubset[$0.key] == $0.value }
        }
        return true
    }
}
