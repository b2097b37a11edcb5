import KMSDomain
import KMSWorkerProto

extension WorkerDomainEnum {
    /// The domain value a request's `field` names. UNSPECIFIED is `unspecified`, the field's
    /// documented default, or refused where it has none. A value this build does not know (from a
    /// kmsd of another build) is a ValidationException naming the field and the number.
    func required(_ field: String, unspecified: Domain? = nil) throws(KMSError) -> Domain {
        if let domain = self.domain { return domain }
        guard self.rawValue != 0 else {
            if let unspecified { return unspecified }
            throw .validation("\(field) is required")
        }
        throw .validation(
            "\(field) \(self.rawValue) is not a value this kms-cryptod knows; kmsd and kms-cryptod must come "
                + "from one build")
    }
}
