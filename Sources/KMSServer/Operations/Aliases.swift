import Foundation
import KMSDomain
import KMSProto

extension KMSService {
    func createAlias(_ request: KMSCreateAliasRequest, caller: Caller) async throws(KMSError) -> KMSCreateAliasResponse
    {
        try AliasName.validate(request.aliasName, creating: true)
        let target = try await self.aliasTarget(request.targetKeyID, caller: caller)
        try self.gate.authorizeAlias(caller, action: "CreateAlias", aliasARN: self.aliasARN(request.aliasName, caller))
        try self.authorize(caller, action: "CreateAlias", key: target)
        try target.record.state.checkModifiable(keyARN: target.record.arn)
        let audit = self.changeRecord(caller)
        let created = try await self.store {
            try await self.stores.aliases.create(
                account: caller.account, region: caller.region, name: request.aliasName, keyID: target.record.keyID,
                now: self.now(),
                audit: audit
            )
        }
        guard created else {
            throw KMSError(
                .alreadyExists,
                "An alias with the name "
                    + "\(self.scope.aliasARN(account: caller.account, region: caller.region, name: request.aliasName)) "
                    + "already exists"
            )
        }
        self.cache.invalidateAlias(
            KeyCache.aliasKey(account: caller.account, region: caller.region, name: request.aliasName))
        return KMSCreateAliasResponse()
    }

    func updateAlias(_ request: KMSUpdateAliasRequest, caller: Caller) async throws(KMSError) -> KMSUpdateAliasResponse
    {
        try AliasName.validate(request.aliasName, creating: true)
        let current = try await self.resolve(request.aliasName, for: caller, field: "aliasName")
        let target = try await self.aliasTarget(request.targetKeyID, caller: caller)
        // AWS: UpdateAlias on the alias (identity policy) and on both keys (key policies).
        try self.gate.authorizeAlias(caller, action: "UpdateAlias", aliasARN: self.aliasARN(request.aliasName, caller))
        try self.authorize(caller, action: "UpdateAlias", key: current)
        try self.authorize(caller, action: "UpdateAlias", key: target)
        try target.record.state.checkModifiable(keyARN: target.record.arn)
        guard current.record.usage == target.record.usage, current.record.spec == target.record.spec else {
            throw .validation("An alias can point only to a key of the same key spec and key usage as its current one.")
        }
        let audit = self.changeRecord(caller)
        let updated = try await self.store {
            try await self.stores.aliases.update(
                account: caller.account, region: caller.region, name: request.aliasName, keyID: target.record.keyID,
                now: self.now(),
                audit: audit
            )
        }
        guard updated else { throw KMSError(.notFound, "Alias \(request.aliasName) is not found.") }
        self.cache.invalidateAlias(
            KeyCache.aliasKey(account: caller.account, region: caller.region, name: request.aliasName))
        return KMSUpdateAliasResponse()
    }

    func deleteAlias(_ request: KMSDeleteAliasRequest, caller: Caller) async throws(KMSError) -> KMSDeleteAliasResponse
    {
        try AliasName.validate(request.aliasName, creating: true)
        let current = try await self.resolve(request.aliasName, for: caller, field: "aliasName")
        try self.gate.authorizeAlias(caller, action: "DeleteAlias", aliasARN: self.aliasARN(request.aliasName, caller))
        try self.authorize(caller, action: "DeleteAlias", key: current)
        let audit = self.changeRecord(caller)
        let deleted = try await self.store {
            try await self.stores.aliases.delete(
                account: caller.account, region: caller.region, name: request.aliasName, audit: audit)
        }
        guard deleted else { throw KMSError(.notFound, "Alias \(request.aliasName) is not found.") }
        self.cache.invalidateAlias(
            KeyCache.aliasKey(account: caller.account, region: caller.region, name: request.aliasName))
        return KMSDeleteAliasResponse()
    }

    func listAliases(_ request: KMSListAliasesRequest, caller: Caller) async throws(KMSError) -> KMSListAliasesResponse
    {
        let limit = try Validation.limit(request.hasLimit ? request.limit : nil, range: 1...100, default: 50)
        let after = try Marker.decode(request.hasMarker ? request.marker : nil)
        var keyID: KeyID?
        if request.hasKeyID {
            let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
            try self.authorize(caller, action: "ListAliases", key: key)
            keyID = key.record.keyID
        } else {
            try self.authorize(caller, action: "ListAliases", key: nil)
        }
        let page = try await self.store { [keyID] in
            try await self.stores.aliases.list(
                account: caller.account, region: caller.region, keyID: keyID, after: after, limit: limit + 1)
        }
        var entries = page.map { alias in
            var entry = KMSAliasListEntry()
            entry.aliasName = alias.name
            entry.aliasArn = alias.arn
            entry.targetKeyID = alias.targetKeyID.description
            entry.creationDate = .init(date: alias.creationDate)
            entry.lastUpdatedDate = .init(date: alias.lastUpdatedDate)
            return entry
        }
        if keyID == nil {
            entries = Self.withPredefinedAliases(
                entries, after: after, storePageFull: page.count > limit,
                arn: { self.aliasARN($0, caller) })
        }
        var response = KMSListAliasesResponse()
        response.aliases = Array(entries.prefix(limit))
        response.truncated = entries.count > limit
        if response.truncated, let last = response.aliases.last {
            response.nextMarker = Marker.encode(last.aliasName)
        }
        return response
    }

    /// A page of stored aliases (in byte order, after `after`) with AWS's predefined aliases
    /// merged in, as AWS lists them: name and ARN only, until their AWS managed key exists and
    /// the alias is stored. A predefined name past the last stored alias of a full page belongs
    /// to a later page (and may be stored there), so it waits for that page.
    static func withPredefinedAliases(
        _ stored: [KMSAliasListEntry], after: String?, storePageFull: Bool, arn: (String) -> String
    ) -> [KMSAliasListEntry] {
        func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
        let names = Set(stored.map(\.aliasName))
        let predefined = AWSManagedServices.predefinedAliases.filter { name in
            !names.contains(name) && after.map { precedes($0, name) } ?? true
                && (!storePageFull || stored.last.map { precedes(name, $0.aliasName) } ?? true)
        }
        let entries = predefined.map { name in
            var entry = KMSAliasListEntry()
            entry.aliasName = name
            entry.aliasArn = arn(name)
            return entry
        }
        return (stored + entries).sorted { precedes($0.aliasName, $1.aliasName) }
    }

    /// The key an alias is to point to: by key id or key ARN, and always a key of the caller's
    /// own account and region (an alias and its key never cross accounts or regions). Another
    /// account's key is "not found", before any authorization, so nothing about it leaks.
    private func aliasTarget(_ text: String, caller: Caller) async throws(KMSError) -> CachedKey {
        let target = try await self.resolve(text, for: caller, accepting: .keyOnly, field: "targetKeyId")
        guard target.record.account == caller.account, target.record.region == caller.region else {
            throw Self.notFound(text)
        }
        return target
    }

    private func aliasARN(_ name: String, _ caller: Caller) -> String {
        self.scope.aliasARN(account: caller.account, region: caller.region, name: name)
    }
}
