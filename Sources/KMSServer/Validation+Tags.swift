import Foundation
import KMSDomain

extension Validation {
    /// The model's constraints on tags (keys of 1 to 128 characters, values of at most 256), as
    /// AWS checks them before the operation runs: one ValidationException naming every member
    /// broken (`tags.1.member.tagKey`). The tag rules that are KMS's own (the reserved prefix,
    /// duplicates, how many) are `Tags.check`'s.
    static func tags(_ tags: [(key: String, value: String)]) throws(KMSError) {
        var violations: [ConstraintViolation] = []
        for (index, tag) in tags.enumerated() {
            let member = "tags.\(index + 1).member"
            if let broken = ConstraintViolation.length(tag.key, in: 1...128) {
                violations.append(ConstraintViolation(value: tag.key, member: "\(member).tagKey", constraint: broken))
            }
            if let broken = ConstraintViolation.length(tag.value, in: 0...256) {
                violations.append(
                    ConstraintViolation(value: tag.value, member: "\(member).tagValue", constraint: broken))
            }
        }
        if let error = KMSError.validation(violations: violations) { throw error }
    }

    /// UntagResource's tag keys, each as `tags(_:)` checks a tag's key (`tagKeys.1.member`).
    static func tagKeys(_ keys: [String]) throws(KMSError) {
        let violations = keys.enumerated().compactMap { index, key in
            ConstraintViolation.length(key, in: 1...128).map {
                ConstraintViolation(value: key, member: "tagKeys.\(index + 1).member", constraint: $0)
            }
        }
        if let error = KMSError.validation(violations: violations) { throw error }
    }
}
