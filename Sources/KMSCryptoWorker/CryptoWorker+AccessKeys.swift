import Foundation
import KMSCrypto
import KMSDomain
import KMSRPC
import KMSWorkerProto

extension CryptoWorker {
    /// Makes (or imports) a secret access key and wraps it for the database. The plaintext
    /// secret goes back once, to be shown to its owner; kmsd never stores it.
    public func createAccessKeySecret(_ request: WorkerCreateAccessKeySecretRequest) throws(KMSError)
        -> WorkerCreateAccessKeySecretResponse
    {
        guard AccessKeySecrets.isValidAccessKeyID(request.accessKeyID) else {
            throw .validation("access_key_id must be 16..128 characters of A-Z and 0-9")
        }
        try Self.checkPrincipalARN(request.principalArn)
        let secret: String
        if request.secretAccessKey.isEmpty {
            secret = AccessKeySecrets.generateSecret()
        } else {
            guard AccessKeySecrets.isValidSecret(request.secretAccessKey) else {
                throw .validation("secret_access_key must be 16..128 printable ASCII characters")
            }
            secret = request.secretAccessKey
        }
        let root = self.keyring.active
        var response = WorkerCreateAccessKeySecretResponse()
        response.secretAccessKey = secret
        response.wrappedSecret = Data(
            AccessKeySecrets.wrap(
                secret: secret, accessKeyID: request.accessKeyID, principalARN: request.principalArn, under: root
            ))
        response.rootKeyID = root.id.description
        return response
    }

    /// Checks a connection's answer to its challenge. A wrong proof is an answer (valid false),
    /// not an error: kmsd decides what the client hears.
    public func verifyAccessKeyProof(_ request: WorkerVerifyAccessKeyProofRequest) throws(KMSError)
        -> WorkerVerifyAccessKeyProofResponse
    {
        guard AccessKeySecrets.isValidAccessKeyID(request.accessKeyID) else {
            throw .validation("access_key_id must be 16..128 characters of A-Z and 0-9")
        }
        try Self.checkPrincipalARN(request.principalArn)
        guard (16...64).contains(request.challenge.count) else { throw .validation("challenge must be 16..64 bytes") }
        var response = WorkerVerifyAccessKeyProofResponse()
        guard request.proof.count == 32 else { return response }
        let proof = [UInt8](request.proof)
        let nonce = [UInt8](request.challenge)
        response.valid = try AccessKeySecrets.withUnwrapped(
            [UInt8](request.wrappedSecret), accessKeyID: request.accessKeyID, principalARN: request.principalArn,
            keyring: self.keyring
        ) { secret in
            RPCAccessKeyProof.verify(proof: proof, secret: secret, nonce: nonce, accessKeyID: request.accessKeyID)
        }
        return response
    }

    static func checkPrincipalARN(_ arn: String) throws(KMSError) {
        guard arn.hasPrefix("arn:"), arn.utf8.count <= 2048 else {
            throw .validation("principal_arn must be an ARN of at most 2048 characters")
        }
    }
}

/// The signing keys kms-cryptod derives: a signing key verifies (and forges) every request of
/// its day, region and service, so a kmsd that asks for any other than the ones it serves today
/// is asking for more than it needs. Those are refused (AccessDeniedException).
public struct SigningKeyScope: Sendable {
    /// The regions served (kms-cryptod's `--regions`; kmsd's `--regions` must be among them).
    public var regions: Set<String>
    /// The only service signing keys are derived for.
    public var service = "kms"
    /// How many days either side of today (UTC) a scope's date may be: one covers clients
    /// whose day has already turned, or not yet, within SigV4's 15-minute skew.
    public var days = 1
    /// The clock dates are checked against (a fixed one in tests).
    public var now: @Sendable () -> Date

    /// A scope for `regions`, service "kms", one day either side of today.
    public init(regions: Set<String> = ["us-east-1"], now: @escaping @Sendable () -> Date = { Date() }) {
        self.regions = regions
        self.now = now
    }

    /// `date` is a scope's `yyyyMMdd`.
    public func check(date: String, region: String, service: String) throws(KMSError) {
        guard service == self.service else {
            throw KMSError(
                .accessDenied, "kms-cryptod derives signing keys for service \(self.service) only, not \(service)")
        }
        guard self.regions.contains(region) else {
            throw KMSError(
                .accessDenied,
                "kms-cryptod derives signing keys for regions \(self.regions.sorted().joined(separator: ", ")) only, "
                    + "not \(region)"
            )
        }
        guard let day = SigV4.parseAmzDate(date + "T000000Z") else {
            throw .validation("date must be a real yyyyMMdd day")
        }
        let today = (self.now().timeIntervalSince1970 / 86_400).rounded(.down)
        guard abs(day.timeIntervalSince1970 / 86_400 - today) <= Double(self.days) else {
            throw KMSError(
                .accessDenied,
                "kms-cryptod derives signing keys for dates within \(self.days) day of today (UTC) only, not \(date)")
        }
    }
}

extension CryptoWorker {
    /// kSigning = HMAC chain over the date, region, service and "aws4_request" from "AWS4" +
    /// secret: valid for one day, region and service only.
    public func deriveSigningKey(_ request: WorkerDeriveSigningKeyRequest) throws(KMSError)
        -> WorkerDeriveSigningKeyResponse
    {
        guard AccessKeySecrets.isValidAccessKeyID(request.accessKeyID) else {
            throw .validation("access_key_id must be 16..128 characters of A-Z and 0-9")
        }
        try Self.checkPrincipalARN(request.principalArn)
        guard request.date.utf8.count == 8, request.date.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw .validation("date must be yyyyMMdd")
        }
        let isName: (String) -> Bool = { name in
            (1...64).contains(name.utf8.count)
                && name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
        }
        guard isName(request.region), isName(request.service) else {
            throw .validation("region and service must be 1..64 of a-z, 0-9 and -")
        }
        try self.signingScope.check(date: request.date, region: request.region, service: request.service)
        let key = try AccessKeySecrets.withUnwrapped(
            [UInt8](request.wrappedSecret), accessKeyID: request.accessKeyID, principalARN: request.principalArn,
            keyring: self.keyring
        ) { secret in
            SigV4.signingKey(secret: secret, date: request.date, region: request.region, service: request.service)
        }
        var response = WorkerDeriveSigningKeyResponse()
        response.signingKey = key.withUnsafeBytes { Data($0) }
        return response
    }
}

extension CryptoWorker {
    /// Re-wraps a stored secret under the active root key (root key rotation); `changed` false when it
    /// already was, so kmsd writes nothing. The secret never leaves this process.
    public func rewrapAccessKeySecret(_ request: WorkerRewrapAccessKeySecretRequest) throws(KMSError)
        -> WorkerRewrapAccessKeySecretResponse
    {
        guard AccessKeySecrets.isValidAccessKeyID(request.accessKeyID) else {
            throw .validation("access_key_id must be 16..128 characters of A-Z and 0-9")
        }
        try Self.checkPrincipalARN(request.principalArn)
        let keyring = self.keyring
        let wrapped = [UInt8](request.wrappedSecret)
        let active = keyring.active
        var response = WorkerRewrapAccessKeySecretResponse()
        response.rootKeyID = active.id.description
        if AccessKeySecrets.rootKeyID(of: wrapped) == active.id {
            response.wrappedSecret = request.wrappedSecret
            return response
        }
        let secret = try AccessKeySecrets.withUnwrapped(
            wrapped, accessKeyID: request.accessKeyID, principalARN: request.principalArn, keyring: keyring
        ) { bytes in String(decoding: bytes, as: UTF8.self) }
        response.wrappedSecret = Data(
            AccessKeySecrets.wrap(
                secret: secret, accessKeyID: request.accessKeyID, principalARN: request.principalArn, under: active
            ))
        response.changed = true
        return response
    }
}
