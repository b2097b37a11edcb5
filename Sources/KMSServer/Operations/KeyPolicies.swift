import KMSDomain
import KMSPolicy
import KMSProto

extension KMSService {
    /// The only key policy name AWS KMS has.
    static let policyName = "default"

    func getKeyPolicy(_ request: KMSGetKeyPolicyRequest, caller: Caller) async throws(KMSError)
        -> KMSGetKeyPolicyResponse
    {
        try Self.checkPolicyName(request.hasPolicyName ? request.policyName : nil)
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "GetKeyPolicy", key: key)
        var response = KMSGetKeyPolicyResponse()
        response.policy = key.record.policy
        response.policyName = Self.policyName
        return response
    }

    func putKeyPolicy(_ request: KMSPutKeyPolicyRequest, caller: Caller) async throws(KMSError)
        -> KMSPutKeyPolicyResponse
    {
        try Self.checkPolicyName(request.hasPolicyName ? request.policyName : nil)
        // Through the shared map: the key is read back after the change with this text.
        let document = try self.cache.policies.parse(request.policy, kind: .resource).document
        let bypass = request.hasBypassPolicyLockoutSafetyCheck && request.bypassPolicyLockoutSafetyCheck
        let conditions = ["kms:BypassPolicyLockoutSafetyCheck": [bypass ? "true" : "false"]]
        _ = try await self.change(
            request.keyID, caller: caller, action: "PutKeyPolicy", accepting: .keyOnly, conditions: conditions
        ) { record throws(KMSError) in
            // AWS's key state table allows PutKeyPolicy in every state, pending deletion included
            // (the policy is what decides who may cancel the deletion).
            try Self.refuseIfAWSManaged(record, "PutKeyPolicy")
            if !bypass {
                try self.checkLockout(document, caller: caller, keyAccount: record.account, keyARN: record.arn)
            }
            record.policy = request.policy
        }
        return KMSPutKeyPolicyResponse()
    }

    func listKeyPolicies(_ request: KMSListKeyPoliciesRequest, caller: Caller) async throws(KMSError)
        -> KMSListKeyPoliciesResponse
    {
        _ = try Validation.limit(request.hasLimit ? request.limit : nil, range: 1...1000, default: 100)
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "ListKeyPolicies", key: key)
        var response = KMSListKeyPoliciesResponse()
        response.policyNames = [Self.policyName]
        response.truncated = false
        return response
    }

    /// Refuses a policy under which the caller could not change the policy again.
    func checkLockout(_ policy: PolicyDocument, caller: Caller, keyAccount: String, keyARN: String) throws(KMSError) {
        // With the request's real condition keys (source address, transport, time), so a policy
        // whose only administrator statement is conditioned on them is judged as it will be.
        let context = caller.requestContext(
            action: "PutKeyPolicy", key: nil, encryptionContext: nil, conditions: [:], policiesHaveConditions: true,
            now: self.now()
        )
        let administrable = KeyAccess.keepsPolicyAdministrable(
            policy, context: context, principalAccount: caller.account, keyAccount: keyAccount,
            keyARN: keyARN, identityPolicies: caller.identityPolicies
        )
        guard administrable else {
            throw KMSError(
                .malformedPolicyDocument,
                "The new key policy will not allow you to update the key policy in the future.")
        }
    }

    static func checkPolicyName(_ name: String?) throws(KMSError) {
        guard let name else { return }
        guard name == policyName else {
            throw KMSError(
                .notFound, "No such policy exists: '\(name.prefix(128))'; the only key policy name is 'default'.")
        }
    }
}
