/// Who asked AWS KMS (or another XKS caller) for the operation that became this XKS call, as
/// the caller reports it. The proxy trusts it no further than the request's signature: it is
/// for the audit trail and for authorization decisions that the key owner chooses to make.
public struct XKSRequestMetadata: Codable, Sendable, Hashable {
    /// The ARN of the principal that called KMS, a service principal, or "AWS Internal". Absent
    /// only on GetHealthStatus.
    public var awsPrincipalArn: String?
    /// The VPC the KMS request came from, when it came through a VPC endpoint.
    public var awsSourceVpc: String?
    /// The VPC endpoint the KMS request came through.
    public var awsSourceVpce: String?
    /// The KMS key whose operation this is (Encrypt and Decrypt only).
    public var kmsKeyArn: String?
    /// The KMS operation that caused this call (CreateKey, Encrypt, KmsHealthCheck, ...); any
    /// value is accepted, since KMS may add operations.
    public var kmsOperation: String
    /// The KMS request id, opaque, for correlating our audit records with the caller's.
    public var kmsRequestId: String
    /// The AWS service that called KMS on the principal's behalf, if any.
    public var kmsViaService: String?

    /// Metadata from its fields; the optional ones default to absent.
    public init(
        awsPrincipalArn: String? = nil, awsSourceVpc: String? = nil, awsSourceVpce: String? = nil,
        kmsKeyArn: String? = nil, kmsOperation: String, kmsRequestId: String, kmsViaService: String? = nil
    ) {
        self.awsPrincipalArn = awsPrincipalArn
        self.awsSourceVpc = awsSourceVpc
        self.awsSourceVpce = awsSourceVpce
        self.kmsKeyArn = kmsKeyArn
        self.kmsOperation = kmsOperation
        self.kmsRequestId = kmsRequestId
        self.kmsViaService = kmsViaService
    }
}
