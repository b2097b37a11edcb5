import Foundation
import KMSCrypto
import KMSDomain
import KMSProto
import KMSStore
import KMSWorkerProto

extension KMSService {
    func encrypt(_ request: KMSEncryptRequest, caller: Caller) async throws(KMSError) -> KMSEncryptResponse {
        let named = request.hasEncryptionAlgorithm ? request.encryptionAlgorithm.awsName : nil
        let key = try await self.openKey(
            .encrypt, named: request.keyID, caller: caller, grantTokens: request.grantTokens,
            encryptionContext: request.encryptionContext, conditions: Self.algorithmCondition(named),
            dryRun: request.dryRun
        ) { record throws(KMSError) in
            let algorithm = try Validation.encryption(record, algorithm: named, operation: "Encrypt", now: self.now())
            try Self.checkAsymmetric(
                record, algorithm, context: request.encryptionContext, plaintext: request.plaintext.count)
            return algorithm
        }
        let algorithm = key.checked
        var response = KMSEncryptResponse()
        response.ciphertextBlob = try await self.ciphertext(
            of: request.plaintext, under: key, algorithm: algorithm, context: request.encryptionContext,
            caller: caller, operation: "Encrypt")
        response.keyID = key.record.arn
        response.encryptionAlgorithm = KMSEncryptionAlgorithmSpec(awsName: algorithm.rawValue) ?? .symmetricDefault
        self.recordUse(of: key, by: caller)
        return response
    }

    func decrypt(_ request: KMSDecryptRequest, caller: Caller) async throws(KMSError) -> KMSDecryptResponse {
        let blob = [UInt8](request.ciphertextBlob)
        if request.hasRecipient {
            throw KMSError(.unsupportedOperation, "Recipient (attested decryption) is not supported.")
        }
        let named = request.hasEncryptionAlgorithm ? request.encryptionAlgorithm.awsName : nil
        if request.dryRun, request.dryRunModifiers.contains(.ignoreCiphertext) {
            try await self.authorizeIgnoringCiphertext(
                .decrypt, named: request.hasKeyID ? request.keyID : nil, field: "keyId", caller: caller,
                grantTokens: request.grantTokens, encryptionContext: request.encryptionContext,
                conditions: Self.algorithmCondition(named))
            try Validation.dryRun(true)
        }
        let key = try await self.openCiphertextKey(
            .decrypt, blob: blob, named: request.hasKeyID ? request.keyID : nil, caller: caller,
            grantTokens: request.grantTokens, encryptionContext: request.encryptionContext,
            conditions: Self.algorithmCondition(named), dryRun: request.dryRun
        ) { record throws(KMSError) in
            let algorithm = try Validation.encryption(record, algorithm: named, operation: "Decrypt", now: self.now())
            try Self.checkAsymmetric(record, algorithm, context: request.encryptionContext, plaintext: nil)
            return algorithm
        }
        let algorithm = key.checked
        var response = KMSDecryptResponse()
        response.plaintext = try await self.plaintext(
            of: request.ciphertextBlob, under: key, algorithm: algorithm, context: request.encryptionContext,
            caller: caller, operation: "Decrypt")
        response.keyID = key.record.arn
        response.encryptionAlgorithm = KMSEncryptionAlgorithmSpec(awsName: algorithm.rawValue) ?? .symmetricDefault
        if algorithm == .symmetricDefault { response.keyMaterialID = key.material.materialID.hex }
        self.recordUse(of: key, by: caller)
        return response
    }

    func reEncrypt(_ request: KMSReEncryptRequest, caller: Caller) async throws(KMSError) -> KMSReEncryptResponse {
        let blob = [UInt8](request.ciphertextBlob)
        let sourceNamed = request.hasSourceEncryptionAlgorithm ? request.sourceEncryptionAlgorithm.awsName : nil
        let destinationNamed =
            request.hasDestinationEncryptionAlgorithm ? request.destinationEncryptionAlgorithm.awsName : nil
        if request.dryRun, request.dryRunModifiers.contains(.ignoreCiphertext) {
            // The source key is authorized as named; the destination is opened as always, which
            // answers DryRunOperationException once it passes.
            try await self.authorizeIgnoringCiphertext(
                .reEncryptFrom, named: request.hasSourceKeyID ? request.sourceKeyID : nil, field: "sourceKeyId",
                caller: caller, grantTokens: request.grantTokens, encryptionContext: request.sourceEncryptionContext,
                conditions: Self.algorithmCondition(sourceNamed))
            _ = try await self.openKey(
                .reEncryptTo, named: request.destinationKeyID, field: "destinationKeyId", caller: caller,
                grantTokens: request.grantTokens, encryptionContext: request.destinationEncryptionContext,
                conditions: Self.algorithmCondition(destinationNamed), dryRun: true
            ) { record throws(KMSError) in
                try Validation.encryption(record, algorithm: destinationNamed, operation: "ReEncrypt", now: self.now())
            }
        }
        // DryRun is checked once both keys have passed their checks: the source is opened without it.
        let source = try await self.openCiphertextKey(
            .reEncryptFrom, blob: blob, named: request.hasSourceKeyID ? request.sourceKeyID : nil,
            field: "sourceKeyId", caller: caller, grantTokens: request.grantTokens,
            encryptionContext: request.sourceEncryptionContext, conditions: Self.algorithmCondition(sourceNamed),
            dryRun: false
        ) { record throws(KMSError) in
            let algorithm = try Validation.encryption(
                record, algorithm: sourceNamed, operation: "ReEncrypt", now: self.now())
            try Self.checkAsymmetric(record, algorithm, context: request.sourceEncryptionContext, plaintext: nil)
            return algorithm
        }
        let destination = try await self.openKey(
            .reEncryptTo, named: request.destinationKeyID, field: "destinationKeyId", caller: caller,
            grantTokens: request.grantTokens, encryptionContext: request.destinationEncryptionContext,
            conditions: Self.algorithmCondition(destinationNamed), dryRun: request.dryRun
        ) { record throws(KMSError) in
            let algorithm = try Validation.encryption(
                record, algorithm: destinationNamed, operation: "ReEncrypt", now: self.now())
            try Self.checkAsymmetric(record, algorithm, context: request.destinationEncryptionContext, plaintext: nil)
            return algorithm
        }
        let (sourceAlgorithm, destinationAlgorithm) = (source.checked, destination.checked)
        var response = KMSReEncryptResponse()
        if source.material.isTokenKey || destination.material.isTokenKey {
            // A token opens or seals only inside itself: the plaintext passes through here, as
            // Decrypt's does, and only for as long as the two calls take.
            let plaintext = try await self.plaintext(
                of: request.ciphertextBlob, under: source, algorithm: sourceAlgorithm,
                context: request.sourceEncryptionContext, caller: caller, operation: "ReEncrypt")
            response.ciphertextBlob = try await self.ciphertext(
                of: plaintext, under: destination, algorithm: destinationAlgorithm,
                context: request.destinationEncryptionContext, caller: caller, operation: "ReEncrypt")
        } else {
            response.ciphertextBlob = try await self.reEncryptInWorker(
                request, source: source, destination: destination, caller: caller)
        }
        response.sourceKeyID = source.record.arn
        response.keyID = destination.record.arn
        response.sourceEncryptionAlgorithm =
            KMSEncryptionAlgorithmSpec(awsName: sourceAlgorithm.rawValue) ?? .symmetricDefault
        response.destinationEncryptionAlgorithm =
            KMSEncryptionAlgorithmSpec(awsName: destinationAlgorithm.rawValue) ?? .symmetricDefault
        if sourceAlgorithm == .symmetricDefault {
            response.sourceKeyMaterialID = source.material.materialID.hex
        }
        if destinationAlgorithm == .symmetricDefault {
            response.destinationKeyMaterialID = destination.material.materialID.hex
        }
        self.recordUse(of: source, by: caller)
        self.recordUse(of: destination, by: caller)
        return response
    }

    /// ReEncrypt inside kms-cryptod (neither key a token key): the plaintext never leaves it.
    private func reEncryptInWorker(
        _ request: KMSReEncryptRequest, source: KeyInUse<EncryptionAlgorithm>,
        destination: KeyInUse<EncryptionAlgorithm>, caller: Caller
    ) async throws(KMSError) -> Data {
        let (sourceAlgorithm, destinationAlgorithm) = (source.checked, destination.checked)
        var call = WorkerReEncryptRequest()
        call.sourceKey = source.workerKey
        // The source's outer layer off first (keys in external key stores), the destination's on last.
        call.ciphertextBlob = try await self.workerBlob(
            request.ciphertextBlob, under: source, context: request.sourceEncryptionContext, caller: caller,
            operation: "ReEncrypt")
        call.sourceEncryptionContext = request.sourceEncryptionContext
        call.destinationKey = destination.workerKey
        call.destinationEncryptionContext = request.destinationEncryptionContext
        call.sourceEncryptionAlgorithm = WorkerEncryptionAlgorithm(sourceAlgorithm)
        call.destinationEncryptionAlgorithm = WorkerEncryptionAlgorithm(destinationAlgorithm)
        if destination.record.xksKeyID == nil { self.auditAhead(caller) }
        var sealed = try await self.worker.call(WorkerMethod.reEncrypt, call).ciphertextBlob
        if destination.record.xksKeyID != nil {
            sealed = Data(
                try await self.xksSeal(
                    Array(sealed), record: destination.record, context: request.destinationEncryptionContext,
                    caller: caller, operation: "ReEncrypt"))
        }
        return sealed
    }

    /// The plaintext of `ciphertext` under `key`, whatever holds the key's material: kms-cryptod,
    /// the store's token, or kms-cryptod under an external key's layer.
    private func plaintext(
        of ciphertext: Data, under key: KeyInUse<EncryptionAlgorithm>, algorithm: EncryptionAlgorithm,
        context: [String: String], caller: Caller, operation: String
    ) async throws(KMSError) -> Data {
        if key.material.isTokenKey { return try await self.tokenDecrypt(ciphertext, key: key, context: context) }
        var call = WorkerDecryptRequest()
        call.key = key.workerKey
        call.ciphertextBlob = try await self.workerBlob(
            ciphertext, under: key, context: context, caller: caller, operation: operation)
        call.encryptionContext = context
        call.encryptionAlgorithm = WorkerEncryptionAlgorithm(algorithm)
        self.auditAhead(caller)
        return try await self.worker.call(WorkerMethod.decrypt, call).plaintext
    }

    /// What kms-cryptod opens of `ciphertext` under `key` (not a token key): the blob itself, or
    /// for a key in an external key store its inner blob, the proxy's outer layer taken off first.
    /// Only a symmetric blob has a version byte: an RSA ciphertext is a number, whose first byte is
    /// 2 or 3 about once in a hundred.
    private func workerBlob(
        _ ciphertext: Data, under key: KeyInUse<EncryptionAlgorithm>, context: [String: String], caller: Caller,
        operation: String
    ) async throws(KMSError) -> Data {
        let blob = [UInt8](ciphertext)
        let symmetric = key.checked == .symmetricDefault
        if symmetric, TokenCiphertext.claims(blob) {
            throw KMSError.invalidCiphertext("The ciphertext is of a token key; \(key.record.arn)'s is not one.")
        }
        // A key in an external key store decrypts only its double-encrypted blobs.
        guard key.record.xksKeyID != nil || (symmetric && XKSCiphertext.claims(blob)) else { return ciphertext }
        guard XKSCiphertext.claims(blob) else {
            throw KMSError.invalidCiphertext("The ciphertext lacks the external key's layer of \(key.record.arn).")
        }
        return Data(
            try await self.xksOpen(blob, record: key.record, context: context, caller: caller, operation: operation))
    }

    /// `plaintext` sealed under `key`, whatever holds its material (Encrypt, ReEncrypt's destination
    /// when a token is involved).
    private func ciphertext(
        of plaintext: Data, under key: KeyInUse<EncryptionAlgorithm>, algorithm: EncryptionAlgorithm,
        context: [String: String], caller: Caller, operation: String
    ) async throws(KMSError) -> Data {
        if key.material.isTokenKey { return try await self.tokenEncrypt(plaintext, key: key, context: context) }
        var call = WorkerEncryptRequest()
        call.key = key.workerKey
        call.plaintext = plaintext
        call.encryptionContext = context
        call.encryptionAlgorithm = WorkerEncryptionAlgorithm(algorithm)
        // An external key's layer comes after: its proxy may fail, so the record waits for it.
        if key.record.xksKeyID == nil { self.auditAhead(caller) }
        let sealed = try await self.worker.call(WorkerMethod.encrypt, call).ciphertextBlob
        guard key.record.xksKeyID != nil else { return sealed }
        return Data(
            try await self.xksSeal(
                Array(sealed), record: key.record, context: context, caller: caller, operation: operation))
    }

    /// RSA encryption takes no encryption context, and at most k - 2·hLen - 2 bytes.
    static func checkAsymmetric(
        _ key: KeyRecord, _ algorithm: EncryptionAlgorithm, context: [String: String], plaintext: Int?
    ) throws(KMSError) {
        guard algorithm != .symmetricDefault else { return }
        guard context.isEmpty else {
            throw .validation("EncryptionContext is not supported with asymmetric KMS keys (\(key.arn)).")
        }
        if let plaintext, let maximum = key.spec.maximumPlaintextBytes(algorithm), plaintext > maximum {
            throw .validation(
                "Algorithm \(algorithm.rawValue) and key spec \(key.spec.rawValue) cannot encrypt data larger than "
                    + "\(maximum) bytes."
            )
        }
    }

    /// kms:EncryptionAlgorithm as the caller named it (SYMMETRIC_DEFAULT is filled in for
    /// symmetric keys by the gate itself).
    static func algorithmCondition(_ algorithm: String?) -> [String: [String]] {
        algorithm.map { ["kms:EncryptionAlgorithm": [$0]] } ?? [:]
    }

    func generateDataKey(_ request: KMSGenerateDataKeyRequest, caller: Caller) async throws(KMSError)
        -> KMSGenerateDataKeyResponse
    {
        if request.hasRecipient {
            throw KMSError(.unsupportedOperation, "Recipient (attested decryption) is not supported.")
        }
        let (blob, plaintext, key) = try await self.dataKey(request, caller: caller)
        var response = KMSGenerateDataKeyResponse()
        response.ciphertextBlob = blob
        response.plaintext = plaintext
        response.keyID = key.record.arn
        response.keyMaterialID = key.record.currentMaterialID?.hex ?? ""
        self.recordUse(of: key, by: caller)
        return response
    }

    func generateDataKeyWithoutPlaintext(_ request: KMSGenerateDataKeyWithoutPlaintextRequest, caller: Caller)
        async throws(KMSError) -> KMSGenerateDataKeyWithoutPlaintextResponse
    {
        let (blob, _, key) = try await self.dataKey(request, caller: caller)
        var response = KMSGenerateDataKeyWithoutPlaintextResponse()
        response.ciphertextBlob = blob
        response.keyID = key.record.arn
        response.keyMaterialID = key.record.currentMaterialID?.hex ?? ""
        self.recordUse(of: key, by: caller)
        return response
    }

    func generateRandom(_ request: KMSGenerateRandomRequest, caller: Caller) async throws(KMSError)
        -> KMSGenerateRandomResponse
    {
        if request.hasRecipient {
            throw KMSError(.unsupportedOperation, "Recipient (attested decryption) is not supported.")
        }
        guard request.hasNumberOfBytes else {
            throw .validation("NumberOfBytes is required.")
        }
        try Limits.check(value: Int(request.numberOfBytes), in: Limits.numberOfBytes, field: "numberOfBytes")
        try self.authorize(caller, action: "GenerateRandom", key: nil)
        if request.hasCustomKeyStoreID {
            var response = KMSGenerateRandomResponse()
            response.plaintext = try await self.tokenRandom(
                Int(request.numberOfBytes), storeID: request.customKeyStoreID, caller: caller)
            return response
        }
        var call = WorkerGenerateRandomRequest()
        call.numberOfBytes = UInt32(request.numberOfBytes)
        var response = KMSGenerateRandomResponse()
        response.plaintext = try await self.worker.call(WorkerMethod.generateRandom, call).plaintext
        return response
    }

    // MARK: shared steps

    /// DryRun with IGNORE_CIPHERTEXT: "KMS performs only authorization validation without
    /// ciphertext validation", so the key must be named (the ciphertext is not read for it).
    func authorizeIgnoringCiphertext(
        _ use: KeyUse, named text: String?, field: String, caller: Caller, grantTokens: [String],
        encryptionContext: [String: String], conditions: [String: [String]]
    ) async throws(KMSError) {
        guard let text else {
            // AWS's text for this case is not documented.
            throw .validation("\(field) is required when DryRunModifiers includes IGNORE_CIPHERTEXT.")
        }
        let key = try await self.freshen(
            try await self.resolve(text, for: caller, field: field), grantTokens: grantTokens)
        try self.authorize(
            caller, action: use.action, key: key, encryptionContext: encryptionContext, conditions: conditions)
    }

    /// A new data key from kms-cryptod under the request's symmetric KMS key: its ciphertext,
    /// its plaintext (empty unless the request type returns it) and the key.
    private func dataKey<Request: DataKeyRequest>(_ request: Request, caller: Caller) async throws(KMSError)
        -> (Data, Data, KeyInUse<Void>)
    {
        let numberOfBytes = request.hasNumberOfBytes ? request.numberOfBytes : nil
        let keySpec = request.hasKeySpec ? request.keySpec.awsName : nil
        let count: Int
        switch (numberOfBytes, keySpec) {
        case (nil, nil), (.some, .some):
            throw .validation("Please specify either number of bytes or key spec.")
        case (let bytes?, nil):
            try Limits.check(value: Int(bytes), in: Limits.numberOfBytes, field: "numberOfBytes")
            count = Int(bytes)
        case (nil, let spec?):
            switch spec {
            case "AES_256": count = 32
            case "AES_128": count = 16
            default:
                throw .validation(
                    "1 validation error detected: Value at 'keySpec' failed to satisfy constraint: Member must "
                        + "satisfy enum value set: [AES_256, AES_128]"
                )
            }
        }
        let key = try await self.openKey(
            Request.use, named: request.keyID, caller: caller, grantTokens: request.grantTokens,
            encryptionContext: request.encryptionContext, dryRun: request.dryRun
        ) { record throws(KMSError) in
            try Validation.symmetricEncryption(record, algorithm: nil, operation: Request.use.rawValue, now: self.now())
        }
        if key.material.isTokenKey {
            let (blob, plaintext) = try await self.tokenDataKey(
                key, numberOfBytes: count, context: request.encryptionContext,
                includePlaintext: Request.returnsPlaintext)
            return (blob, plaintext, key)
        }
        var call = WorkerGenerateDataKeyRequest()
        call.key = key.workerKey
        call.numberOfBytes = UInt32(count)
        call.encryptionContext = request.encryptionContext
        call.includePlaintext = Request.returnsPlaintext
        if key.record.xksKeyID == nil { self.auditAhead(caller) }
        let answer = try await self.worker.call(WorkerMethod.generateDataKey, call)
        guard key.record.xksKeyID != nil else { return (answer.ciphertextBlob, answer.plaintext, key) }
        let sealed = try await self.xksSeal(
            Array(answer.ciphertextBlob), record: key.record, context: request.encryptionContext, caller: caller,
            operation: Request.use.rawValue)
        return (Data(sealed), answer.plaintext, key)
    }

    /// The key a ciphertext is under, with the material version it was made with. A symmetric
    /// blob names both (checked against the key the caller named, if any); an asymmetric
    /// ciphertext names neither, so the caller's key and its current material are used.
    func keyForCiphertext(
        _ blob: [UInt8], named given: CachedKey?, caller: Caller, action: String, encryptionContext: [String: String],
        conditions: [String: [String]], grantTokens: [String]
    ) async throws(KMSError) -> (CachedKey, StoredMaterial) {
        // An HMAC key takes the symmetric path: a symmetric ciphertext names another key, so the
        // answer is IncorrectKeyException, as at AWS (not InvalidKeyUsageException).
        if let given, given.record.spec.isAsymmetric {
            // State, usage and algorithm are the caller's next step (Validation.encryption).
            let key = try await self.freshen(given, grantTokens: grantTokens)
            try self.authorize(
                caller, action: action, key: key, encryptionContext: encryptionContext,
                conditions: conditions)
            return (key, try self.currentMaterial(of: key))
        }
        let header = try Self.ciphertextHeader(blob)
        // A multi-Region key's ciphertext names the public id: any related key decrypts it, the
        // one of the caller's region here.
        let keyID = header.keyID.inRegion(caller.region)
        if let given, given.record.keyID != keyID {
            throw KMSError(
                .incorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
        }
        var key: CachedKey
        let unknownKey = KMSError.invalidCiphertext(
            "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or "
                + "you are not allowed to access."
        )
        do {
            key = try await self.loadKey(keyID, named: keyID.description)
        } catch  where error.code == .notFound {
            throw unknownKey
        }
        // Keys are regional: a ciphertext of another region's key is not decrypted here. (Another
        // account's key is fine: the ciphertext names it, and authorization decides.)
        guard key.record.region == caller.region else { throw unknownKey }
        key = try await self.freshen(key, grantTokens: grantTokens)
        try self.authorize(
            caller, action: action, key: key, encryptionContext: encryptionContext,
            conditions: conditions)
        if key.materials[header.materialID] == nil {
            // Another kmsd may have rotated the key since we cached it.
            key = try await self.reloadKey(keyID)
        }
        guard let material = key.materials[header.materialID] else {
            // A key whose imported material was deleted says so, not that the blob is bad.
            try Validation.usable(key.record, now: self.now())
            throw KMSError.invalidCiphertext("The ciphertext names key material that \(key.record.arn) does not have.")
        }
        return (key, material)
    }

    /// The key and material a symmetric blob names, whichever of the three formats it is in.
    static func ciphertextHeader(_ blob: [UInt8]) throws(KMSError) -> SymmetricCiphertext.Header {
        if XKSCiphertext.claims(blob) { return try XKSCiphertext.parse(blob).header }
        if TokenCiphertext.claims(blob) {
            let parts = try TokenCiphertext.parse(blob)
            return SymmetricCiphertext.Header(keyID: parts.keyID, materialID: parts.materialID)
        }
        return try SymmetricCiphertext.header(of: blob)
    }

    func currentMaterial(of key: CachedKey) throws(KMSError) -> StoredMaterial {
        guard let material = key.currentMaterial else {
            // An EXTERNAL key before its import, or after its material expired or was deleted.
            throw KMSError(.invalidState, "\(key.record.arn) has no key material (state \(key.record.state.rawValue)).")
        }
        return material
    }
}
