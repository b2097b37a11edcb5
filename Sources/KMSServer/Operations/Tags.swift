import Foundation
import KMSDomain
import KMSProto
import KMSStore

/// TagResource, UntagResource, ListResourceTags. Tags are cached with their key, so
/// aws:ResourceTag/<key> conditions cost nothing per request.
extension KMSService {
    func tagResource(_ request: KMSTagResourceRequest, caller: Caller) async throws(KMSError) -> KMSTagResourceResponse
    {
        let tags = request.tags.map { (key: $0.tagKey, value: $0.tagValue) }
        guard !tags.isEmpty else {
            throw .validation(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must not be empty")
        }
        try Validation.tags(tags)
        try Tags.check(tags)
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "TagResource", key: key, conditions: Self.tagConditions(tags))
        try Self.checkTaggable(key.record)
        let audit = self.changeRecord(caller)
        guard
            try await self.store({
                try await self.stores.rotations.putTagsWithinLimit(keyID: key.record.keyID, tags, audit: audit)
            })
        else {
            throw KMSError(.limitExceeded, "A key can have at most \(Tags.maximumPerKey) tags.")
        }
        self.cache.invalidateKey(key.record.keyID)
        return KMSTagResourceResponse()
    }

    func untagResource(_ request: KMSUntagResourceRequest, caller: Caller) async throws(KMSError)
        -> KMSUntagResourceResponse
    {
        guard !request.tagKeys.isEmpty else {
            throw .validation(
                "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must not be empty"
            )
        }
        try Validation.tagKeys(request.tagKeys)
        for tagKey in request.tagKeys { try Tags.checkKey(tagKey) }
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "UntagResource", key: key, conditions: ["aws:TagKeys": request.tagKeys])
        try Self.checkTaggable(key.record)
        let audit = self.changeRecord(caller)
        try await self.store {
            try await self.stores.rotations.removeTags(keyID: key.record.keyID, request.tagKeys, audit: audit)
        }
        self.cache.invalidateKey(key.record.keyID)
        return KMSUntagResourceResponse()
    }

    func listResourceTags(_ request: KMSListResourceTagsRequest, caller: Caller) async throws(KMSError)
        -> KMSListResourceTagsResponse
    {
        let limit = try Validation.limit(request.hasLimit ? request.limit : nil, range: 1...50, default: 50)
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "ListResourceTags", key: key)
        let all = try await self.store { try await self.stores.rotations.tags(keyID: key.record.keyID) }
        let after = request.hasMarker ? request.marker : ""
        let page = all.filter { $0.key > after }
        var response = KMSListResourceTagsResponse()
        response.tags = page.prefix(limit).map { tag in
            var entry = KMSTag()
            entry.tagKey = tag.key
            entry.tagValue = tag.value
            return entry
        }
        response.truncated = page.count > limit
        if page.count > limit, let last = response.tags.last { response.nextMarker = last.tagKey }
        return response
    }

    /// aws:RequestTag/<key> and aws:TagKeys, for TagResource and CreateKey with Tags.
    static func tagConditions(_ tags: [(key: String, value: String)]) -> [String: [String]] {
        var conditions: [String: [String]] = ["aws:TagKeys": tags.map(\.key)]
        for tag in tags { conditions["aws:RequestTag/\(tag.key)"] = [tag.value] }
        return conditions
    }

    static func checkTaggable(_ record: KeyRecord) throws(KMSError) {
        if record.manager == .aws {
            throw KMSError(.unsupportedOperation, "\(record.arn) is an AWS managed key, which cannot be tagged.")
        }
        if record.state == .pendingDeletion {
            throw KMSError(.invalidState, "\(record.arn) is pending deletion.")
        }
    }
}
