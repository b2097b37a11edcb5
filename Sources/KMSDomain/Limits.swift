/// Size limits of the AWS KMS API, enforced before any work is done.
public enum Limits {
    /// Encrypt's plaintext: 1...4096 bytes.
    public static let plaintextBytes = 1...4096
    /// A ciphertext blob: 1...6144 bytes.
    public static let ciphertextBlobBytes = 1...6144
    /// GenerateDataKey's and GenerateRandom's NumberOfBytes: 1...1024.
    public static let numberOfBytes = 1...1024
    /// The encryption context, counted as the UTF-8 bytes of every key and value together.
    public static let encryptionContextBytes = 8192
}

extension Limits {
    /// Checks a blob's size against a limit, naming the field as AWS's validation messages do.
    public static func check(_ count: Int, in range: ClosedRange<Int>, field: String) throws(KMSError) {
        if count < range.lowerBound {
            throw .validation(
                "1 validation error detected: Value at '\(field)' failed to satisfy constraint: Member must have "
                    + "length greater than or equal to \(range.lowerBound)"
            )
        }
        if count > range.upperBound {
            throw .validation(
                "1 validation error detected: Value at '\(field)' failed to satisfy constraint: Member must have "
                    + "length less than or equal to \(range.upperBound)"
            )
        }
    }

    /// Checks a number against a range, naming the field as AWS's validation messages do.
    public static func check(value: Int, in range: ClosedRange<Int>, field: String) throws(KMSError) {
        if value < range.lowerBound {
            throw .validation(
                "1 validation error detected: Value '\(value)' at '\(field)' failed to satisfy constraint: Member "
                    + "must have value greater than or equal to \(range.lowerBound)"
            )
        }
        if value > range.upperBound {
            throw .validation(
                "1 validation error detected: Value '\(value)' at '\(field)' failed to satisfy constraint: Member "
                    + "must have value less than or equal to \(range.upperBound)"
            )
        }
    }
}
