import Crypto
import KMSCrypto
import KMSDomain

/// Wrapped key material as kms-cryptod receives it from kmsd with every request (the worker
/// keeps no state, so every blob it unwraps has crossed the process boundary).
///
/// Input: the wrapped blob. The header parses only for a blob of the format and says what its
/// bytes say; unwrapping fails with KeyUnavailable for a root key the keyring lacks and
/// KMSInternalException for anything else that does not authenticate; what unwraps re-wraps to a
/// blob that unwraps to the same material.
enum WrappedMaterialTarget {
    static let target = FuzzTarget(name: "wrapped-material", run: run, seeds: seeds)
    static let headerLength = 1 + 1 + 16 + 12
    static let tagLength = 16

    static func run(_ data: UnsafeRawBufferPointer) {
        let wrapped = Array(data)
        let header: MaterialWrapping.Header?
        do {
            let parsed = try MaterialWrapping.header(of: wrapped)
            require(
                wrapped.count > headerLength + tagLength && wrapped[0] == 1,
                "a header parsed from a blob that is not of the format")
            require(parsed.kind.rawValue == wrapped[1], "the header's kind is not the blob's byte 1")
            require(
                FuzzKeys.uuidBytes(parsed.rootKeyID.uuid) == Array(wrapped[2..<18]),
                "the header's root key id is not the blob's bytes 2..<18")
            header = parsed
        } catch {
            require(error.code == .internalFailure && !error.retryable, "header(of:) threw \(error.code)")
            header = nil
        }
        let unwrapped: SymmetricKey
        do {
            (unwrapped, _) = try MaterialWrapping.unwrap(
                wrapped, keyARN: FuzzKeys.keyARN, materialID: FuzzKeys.materialID, keyring: FuzzKeys.keyring)
        } catch {
            let heldRoot = header.map { FuzzKeys.keyring.key(id: $0.rootKeyID) != nil }
            let expected: KMSError.Code = heldRoot == false ? .keyUnavailable : .internalFailure
            require(error.code == expected, "unwrap threw \(error.code), expected \(expected)")
            return
        }
        guard let header, let root = FuzzKeys.keyring.key(id: header.rootKeyID) else {
            require(false, "a blob unwrapped without a header naming a held root key")
            return
        }
        require(
            unwrapped.bitCount == (wrapped.count - headerLength - tagLength) * 8,
            "the material is not the blob's length less the overhead")
        let rewrapped = MaterialWrapping.wrap(
            unwrapped, kind: header.kind, keyARN: FuzzKeys.keyARN, materialID: FuzzKeys.materialID, under: root)
        let again = try? MaterialWrapping.unwrap(
            rewrapped, keyARN: FuzzKeys.keyARN, materialID: FuzzKeys.materialID, keyring: FuzzKeys.keyring)
        require(
            again?.material == unwrapped && again?.header == header,
            "the re-wrapped material does not unwrap to the same")
    }

    static func seeds() -> [[UInt8]] {
        func wrap(_ bytes: Int, _ kind: MaterialKind, _ root: RootKey) -> [UInt8] {
            MaterialWrapping.wrap(
                SymmetricKey(data: [UInt8](repeating: 0x6B, count: bytes)), kind: kind, keyARN: FuzzKeys.keyARN,
                materialID: FuzzKeys.materialID, under: root
            )
        }
        let symmetric = wrap(32, .symmetric256, FuzzKeys.rootKeys[0])
        return [
            symmetric,
            wrap(64, .hmac, FuzzKeys.rootKeys[1]),
            wrap(138, .privateKey, FuzzKeys.rootKeys[1]),
            wrap(32, .symmetric256, FuzzKeys.retiredRoot),
            Array(symmetric.prefix(headerLength + tagLength + 1)),
        ]
    }
}
