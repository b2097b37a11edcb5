import Foundation
import KMSDomain
import KMSProto
import KMSStore
import SwiftProtobuf

/// Automatic and on-demand rotation of symmetric keys of origin AWS_KMS, and on-demand rotation
/// of those of origin EXTERNAL (ImportedKeyRotation). A rotation adds a material version and
/// makes it current; every older version stays, so every ciphertext ever
/// made under the key keeps decrypting.
extension KMSService {
    static let rotationPeriods = 90...2560
    static let maximumOnDemandRotations = 25

    func enableKeyRotation(_ request: KMSEnableKeyRotationRequest, caller: Caller) async throws(KMSError)
        -> KMSEnableKeyRotationResponse
    {
        let period = request.hasRotationPeriodInDays ? Int(request.rotationPeriodInDays) : 365
        guard Self.rotationPeriods.contains(period) else {
            throw .validation(
                "1 validation error detected: Value '\(period)' at 'rotationPeriodInDays' failed to satisfy "
                    + "constraint: Member must have value between 90 and 2560"
            )
        }
        let now = self.now()
        let lastRotation = try await self.lastRotationDate(request.keyID, caller: caller)
        _ = try await self.change(request.keyID, caller: caller, action: "EnableKeyRotation", accepting: .keyOnly) {
            record throws(KMSError) in
            try Self.checkRotatable(record, "EnableKeyRotation")
            try record.state.checkUsable(keyARN: record.arn)
            // A new period counts from the last rotation (or creation), but never lies in the past.
            record.nextRotationDate = KeySchedule.nextRotation(
                enabling: record, periodInDays: period, lastRotation: lastRotation, at: now)
            record.rotationPeriodInDays = period
        }
        return KMSEnableKeyRotationResponse()
    }

    func disableKeyRotation(_ request: KMSDisableKeyRotationRequest, caller: Caller) async throws(KMSError)
        -> KMSDisableKeyRotationResponse
    {
        _ = try await self.change(request.keyID, caller: caller, action: "DisableKeyRotation", accepting: .keyOnly) {
            record throws(KMSError) in
            try Self.checkRotatable(record, "DisableKeyRotation")
            try record.state.checkUsable(keyARN: record.arn)
            record.rotationPeriodInDays = nil
            record.nextRotationDate = nil
        }
        return KMSDisableKeyRotationResponse()
    }

    func getKeyRotationStatus(_ request: KMSGetKeyRotationStatusRequest, caller: Caller) async throws(KMSError)
        -> KMSGetKeyRotationStatusResponse
    {
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "GetKeyRotationStatus", key: key)
        var record = key.record
        // Rotation is shared by related multi-Region keys and kept on the primary; a primary in
        // a peer deployment's region is not here to ask: its deployment tells its schedule
        // (kms_mrk_peer_states), none until it has.
        if record.isReplica, let primaryRegion = record.multiRegion?.primaryRegion {
            if self.scope.regions.contains(primaryRegion) {
                let primary = try await self.loadKey(record.keyID.inRegion(primaryRegion), named: record.arn).record
                record.rotationPeriodInDays = primary.rotationPeriodInDays
                record.nextRotationDate = primary.nextRotationDate
            } else if let peers = self.stores.peerReplication {
                let (family, region) = (record.keyID, record.region)
                let told = try await self.store {
                    try await peers.peerRotationSchedule(
                        of: family, primaryRegion: primaryRegion, replicaRegion: region)
                }
                record.rotationPeriodInDays = told?.rotationPeriodInDays
                record.nextRotationDate = told?.nextRotationDate
            }
        }
        guard record.canRotate else {
            throw KMSError(
                .unsupportedOperation,
                "\(record.arn) does not support rotation: only symmetric encryption keys of origin AWS_KMS rotate.")
        }
        var response = KMSGetKeyRotationStatusResponse()
        response.keyID = record.arn
        // AWS: "While a KMS key is pending deletion, its key rotation status is false"; the
        // schedule is kept, and returns if the deletion is cancelled.
        response.keyRotationEnabled = record.rotationPeriodInDays != nil && record.state != .pendingDeletion
        if response.keyRotationEnabled, let period = record.rotationPeriodInDays {
            response.rotationPeriodInDays = Int32(period)
        }
        if response.keyRotationEnabled, let next = record.nextRotationDate {
            response.nextRotationDate = Google_Protobuf_Timestamp(date: next)
        }
        if let started = self.onDemandRotations.startDate(of: record.keyID) {
            response.onDemandRotationStartDate = Google_Protobuf_Timestamp(date: started)
        }
        return response
    }

    func rotateKeyOnDemand(_ request: KMSRotateKeyOnDemandRequest, caller: Caller) async throws(KMSError)
        -> KMSRotateKeyOnDemandResponse
    {
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "RotateKeyOnDemand", key: key)
        // AWS's order: the key's state first (a disabled RSA key is DisabledException), then
        // whether its spec and origin rotate at all.
        try key.record.state.checkUsable(keyARN: key.record.arn)
        try Self.checkRotatable(key.record, "RotateKeyOnDemand")
        let count = try await self.store {
            try await self.stores.rotations.onDemandRotationCount(keyID: key.record.keyID)
        }
        guard count < Self.maximumOnDemandRotations else {
            throw KMSError(
                .limitExceeded,
                "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations "
                    + "can be performed for this key: \(key.record.arn)"
            )
        }
        let rotated = try await self.onDemandRotations.running(key.record.keyID, since: self.now()) {
            () async throws(KMSError) in
            key.record.origin == .external
                ? try await self.rotateImported(key.record, caller: caller)
                : try await self.rotate(key.record, kind: .onDemand, caller: caller)
        }
        guard rotated != nil else {
            throw KMSError(.conflict, "\(key.record.arn) is being changed or rotated by another request; retry.")
        }
        var response = KMSRotateKeyOnDemandResponse()
        response.keyID = key.record.arn
        return response
    }

    func listKeyRotations(_ request: KMSListKeyRotationsRequest, caller: Caller) async throws(KMSError)
        -> KMSListKeyRotationsResponse
    {
        let limit = try Validation.limit(request.hasLimit ? request.limit : nil, range: 1...1000, default: 100)
        var offset = 0
        if request.hasMarker {
            guard let value = Int(request.marker), value >= 0 else {
                throw KMSError(.invalidMarker, "The marker is not one this operation returned.")
            }
            offset = value
        }
        var allMaterial = false
        if request.hasIncludeKeyMaterial {
            switch request.includeKeyMaterial.awsName {
            case "ALL_KEY_MATERIAL": allMaterial = true
            case "ROTATIONS_ONLY": allMaterial = false
            default:
                throw .validation(
                    "1 validation error detected: Value at 'includeKeyMaterial' failed to satisfy constraint: Member "
                        + "must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]"
                )
            }
        }
        let key = try await self.resolve(request.keyID, for: caller, accepting: .keyOnly)
        try self.authorize(caller, action: "ListKeyRotations", key: key)
        guard key.record.canRotate || key.record.rotatesImportedMaterial else {
            throw KMSError(
                .unsupportedOperation,
                "\(key.record.arn) does not support rotation: only symmetric encryption keys of origin AWS_KMS or "
                    + "EXTERNAL rotate.")
        }
        let entries = try await self.rotationEntries(of: key, allMaterial: allMaterial)
        let page = entries.dropFirst(offset).prefix(limit + 1)
        var response = KMSListKeyRotationsResponse()
        response.rotations = Array(page.prefix(limit))
        response.truncated = page.count > limit
        if page.count > limit { response.nextMarker = String(offset + limit) }
        return response
    }

    /// Generates new material and makes it current. Nil when the key changed meanwhile.
    /// `caller`: who asked (RotateKeyOnDemand), whose record commits with the rotation; nil for
    /// the scheduler's.
    func rotate(_ record: KeyRecord, kind: RotationRecord.Kind, caller: Caller? = nil) async throws(KMSError)
        -> KeyRecord?
    {
        let material = try await self.generateMaterial(keyID: record.keyID, keyARN: record.materialARN)
        let now = self.now()
        // An automatic rotation schedules the next; an on-demand one leaves the schedule alone.
        var next = record.nextRotationDate
        if kind == .automatic, let period = record.rotationPeriodInDays {
            next = KeySchedule.nextRotation(afterAutomaticRotationAt: now, periodInDays: period)
        }
        let audit = caller.flatMap(self.changeRecord)
        let rotated = try await self.store { [next] in
            try await self.stores.rotations.rotate(
                record, to: material, kind: kind, at: now, nextRotationDate: next, audit: audit)
        }
        if let rotated {
            self.cache.invalidateKey(rotated.keyID)
            self.logger.notice(
                "rotated key",
                metadata: [
                    "key_arn": "\(rotated.arn)", "type": "\(kind.rawValue)",
                    "material": "\(material.materialID.hex)",
                ])
            await self.exportRotation(of: record)
        }
        return rotated
    }

    /// One scheduler round: rotates every enabled key whose automatic rotation is due. Keys that
    /// are disabled or pending deletion wait; re-enabled past their date, they rotate at once.
    public func rotateDueKeys() async throws(KMSError) -> Int {
        let due = try await self.store { try await self.stores.rotations.due(now: self.now(), limit: 100) }
        var rotated = 0
        for keyID in due {
            guard let (record, _) = try await self.store({ try await self.stores.keys.fetch(keyID: keyID) }),
                KeySchedule.isRotationDue(record, at: self.now())
            else { continue }
            if try await self.rotate(record, kind: .automatic) != nil { rotated += 1 }
        }
        return rotated
    }

    static func checkRotatable(_ record: KeyRecord, _ operation: String) throws(KMSError) {
        if record.isReplica {
            throw KMSError(
                .unsupportedOperation,
                "\(record.arn) is a multi-Region replica key: \(operation) is done on its primary key, whose rotation "
                    + "all its replicas share.")
        }
        guard record.canRotate || (operation == "RotateKeyOnDemand" && record.rotatesImportedMaterial) else {
            throw KMSError(
                .unsupportedOperation,
                "\(operation) is not supported for \(record.arn): only symmetric encryption keys of origin AWS_KMS "
                    + "rotate."
            )
        }
        if record.manager == .aws, operation != "RotateKeyOnDemand" {
            throw KMSError(
                .unsupportedOperation,
                "\(record.arn) is an AWS managed key: it rotates every year and that cannot be changed.")
        }
        if record.manager == .aws {
            throw KMSError(
                .unsupportedOperation, "\(record.arn) is an AWS managed key, which cannot be rotated on demand.")
        }
    }

    private func lastRotationDate(_ keyText: String, caller: Caller) async throws(KMSError) -> Date? {
        let key = try await self.resolve(keyText, for: caller, accepting: .keyOnly)
        let rotations = try await self.store {
            try await self.stores.rotations.rotations(keyID: key.record.keyID, offset: 0, limit: 10_000)
        }
        return rotations.last?.date
    }
}
