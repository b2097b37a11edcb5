import Crypto
import Foundation
import KMSDomain

/// GetParametersForImport's import token: the private half of a one-off RSA wrapping key,
/// wrapped under the root key like any key material, with its key ARN, wrapping algorithm,
/// wrapping key spec and expiry bound into the wrapping's AAD (through the material id), so
/// kms-cryptod needs no state to honour it and a token for one key opens for no other.
///
///     version (1) | valid-to seconds (8) | algorithm (1 + n) | spec (1 + n) | wrapped PKCS#8
public struct ImportToken: Sendable {
    static let version: UInt8 = 1
    static let domain = Array("kms/import-token/v1".utf8)

    /// When the token expires, to the whole second (the token encodes seconds).
    public let validTo: Date
    /// How the caller must wrap the material it imports with this token.
    public let algorithm: WrappingAlgorithm
    /// The spec of the RSA wrapping key the token holds.
    public let spec: WrappingKeySpec

    /// A token's terms; `validTo` is rounded down to the second, as the token stores it.
    public init(validTo: Date, algorithm: WrappingAlgorithm, spec: WrappingKeySpec) {
        self.validTo = Date(timeIntervalSince1970: validTo.timeIntervalSince1970.rounded(.down))
        self.algorithm = algorithm
        self.spec = spec
    }

    /// The token for `wrappingKey`, a fresh RSA key of `spec`.
    public func seal(_ wrappingKey: PrivateKey, keyARN: String, under root: RootKey) -> [UInt8] {
        let header = self.header
        let wrapped = wrappingKey.withPKCS8DER { der in
            MaterialWrapping.wrap(
                SymmetricKey(data: der), kind: .privateKey, keyARN: keyARN, materialID: Self.materialID(header),
                under: root
            )
        }
        return header + wrapped
    }

    /// Opens a token for the key `keyARN`: the wrapping private key and the token's terms.
    /// A token that is not ours or not for this key: InvalidImportTokenException; one past
    /// its expiry: ExpiredImportTokenException.
    public static func open(
        _ token: [UInt8], keyARN: String, keyring: RootKeyring, now: Date
    ) throws(KMSError) -> (token: ImportToken, wrappingKey: PrivateKey) {
        let invalid = KMSError(.invalidImportToken, "The import token is not valid for this key.")
        var reader = token[...]
        guard reader.popFirst() == version, reader.count > 8 else { throw invalid }
        var seconds: UInt64 = 0
        for _ in 0..<8 { seconds = seconds << 8 | UInt64(reader.removeFirst()) }
        guard let algorithmName = Self.string(&reader), let algorithm = WrappingAlgorithm(rawValue: algorithmName),
            let specName = Self.string(&reader), let spec = WrappingKeySpec(rawValue: specName),
            let keySpec = KeySpec(rawValue: spec.rawValue)
        else { throw invalid }
        let parsed = ImportToken(
            validTo: Date(timeIntervalSince1970: TimeInterval(seconds)), algorithm: algorithm, spec: spec)
        let header = Array(token[..<reader.startIndex])
        let material: SymmetricKey
        do {
            (material, _) = try MaterialWrapping.unwrap(
                Array(reader), keyARN: keyARN, materialID: Self.materialID(header), keyring: keyring)
        } catch {
            // Also a token sealed under a root key since retired: the caller asks for a new one.
            throw invalid
        }
        guard parsed.validTo > now else {
            throw KMSError(
                .expiredImportToken, "The import token expired at \(parsed.validTo); call GetParametersForImport again."
            )
        }
        let key: PrivateKey
        do {
            key = try material.withUnsafeBytes { bytes throws(KMSError) in
                try PrivateKey(pkcs8DER: Array(bytes), spec: keySpec)
            }
        } catch {
            throw invalid
        }
        return (parsed, key)
    }

    var header: [UInt8] {
        var bytes: [UInt8] = [Self.version]
        let seconds = UInt64(max(0, self.validTo.timeIntervalSince1970))
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: seconds >> UInt64(shift)))
        }
        for text in [self.algorithm.rawValue, self.spec.rawValue] {
            bytes.append(UInt8(text.utf8.count))
            bytes.append(contentsOf: text.utf8)
        }
        return bytes
    }

    static func materialID(_ header: [UInt8]) -> MaterialID {
        try! MaterialID(bytes: Array(SHA256.hash(data: domain + header)))
    }

    private static func string(_ reader: inout ArraySlice<UInt8>) -> String? {
        guard let count = reader.popFirst(), reader.count >= Int(count) else { return nil }
        let bytes = reader.prefix(Int(count))
        reader.removeFirst(Int(count))
        return String(decoding: bytes, as: UTF8.self)
    }
}
