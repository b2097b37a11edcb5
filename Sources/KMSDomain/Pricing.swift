import struct Foundation.Date
import struct Foundation.TimeInterval

/// AWS KMS list prices (US East, as published when this was written), to show a team what
/// its use of the service would cost at AWS, and where the requests go:
/// - a customer managed key: $1 per month, prorated by the hour (730 hours a month), nothing
///   while its deletion is pending; each of its first two rotations adds $1 per month from the
///   rotation on (AWS caps the charge at the second rotation); AWS managed keys are free;
/// - symmetric and HMAC requests: $0.03 per 10,000;
/// - asymmetric requests (RSA, ECC): $0.15 per 10,000.
/// AWS's free tier (20,000 requests a month) is not applied.
public enum Pricing {
    /// US dollars a customer managed key costs per month.
    public static let keyPerMonth = 1.0
    /// Hours in AWS's billing month, by which key prices are prorated.
    public static let hoursPerMonth = 730.0
    /// US dollars per 10,000 symmetric or HMAC requests.
    public static let symmetricPer10k = 0.03
    /// US dollars per 10,000 asymmetric requests.
    public static let asymmetricPer10k = 0.15

    /// The price of one request on a key of `spec` (nil: an operation on no key, priced as symmetric).
    public static func perRequest(_ spec: KeySpec?) -> Double {
        switch spec {
        case .rsa2048, .rsa3072, .rsa4096, .eccNistP256, .eccNistP384, .eccNistP521, .eccSecgP256k1,
            .eccNistEdwards25519, .sm2, .mlDsa44, .mlDsa65, .mlDsa87:
            return asymmetricPer10k / 10_000
        default:
            return symmetricPer10k / 10_000
        }
    }

    /// Hours a customer managed key existed within [from, to).
    public static func keyHours(created: Date, deleted: Date?, from: Date, to: Date) -> Double {
        let start = max(created, from)
        let end = min(deleted ?? to, to)
        return max(0, end.timeIntervalSince(start) / 3600)
    }

    /// Hours of rotated material within [from, to): each of the first two rotations counts from
    /// its date until the key stopped being billed.
    public static func rotationHours(_ rotations: [Date], billedUntil: Date?, from: Date, to: Date) -> Double {
        rotations.sorted().prefix(2).reduce(0) { total, rotated in
            total + keyHours(created: rotated, deleted: billedUntil, from: from, to: to)
        }
    }

    /// US dollars for `hours` of one key (or of one rotation's extra material).
    public static func keyCost(hours: Double) -> Double {
        hours / hoursPerMonth * keyPerMonth
    }
}
