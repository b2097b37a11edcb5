/// The AWS KMS features this service refuses although AWS serves them, each with the reason, so
/// that kmsd and kms-cryptod say the same thing. UnsupportedOperationException is AWS's name for
/// a feature that is not available: the request is valid at AWS, so ValidationException would
/// blame the caller.
extension KMSError {
    /// EXTERNAL_MU on an ML-DSA key: swift-crypto, which does ML-DSA here, signs and verifies
    /// whole messages only (BoringSSL's signing of a message representative is not part of its API).
    public static var externalMuUnsupported: KMSError {
        KMSError(
            .unsupportedOperation,
            "MessageType EXTERNAL_MU (a 64-byte ML-DSA message representative mu) is not supported by this "
                + "service: its ML-DSA library signs whole messages only. Sign the message itself with "
                + "MessageType RAW (up to 4096 bytes)."
        )
    }

    /// CreateKey of a spec this service holds no keys of (SM2: China Regions only at AWS).
    public static func keySpecUnsupported(_ spec: KeySpec) -> KMSError {
        let reason =
            switch spec {
            case .mlDsa44:
                " ML-DSA-44 is missing from its ML-DSA library (swift-crypto offers ML-DSA-65 and ML-DSA-87); use "
                    + "ML_DSA_65 or ML_DSA_87."
            default: ""
            }
        return KMSError(.unsupportedOperation, "KeySpec \(spec.rawValue) is not supported by this service.\(reason)")
    }
}
