import KMSDomain
import KMSPolicy
import Testing

/// IpAddress/NotIpAddress values that are not a CIDR block: refused as malformed, never a trap
/// (fuzzing found "" and "/" crashing the parser).
@Suite struct IPAddressValueTests {
    @Test(arguments: ["", "/", "/8", "10.0.0.0/", "10.0.0.0//8", "::/", "/::"])
    func isRefusedAsMalformed(_ value: String) {
        let policy = """
            {"Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Condition": {"IpAddress": \
            {"aws:SourceIp": "\(value)"}}}}
            """
        #expect(throws: KMSError.self) { _ = try PolicyDocument.parse(policy, kind: .identity) }
        do {
            _ = try PolicyDocument.parse(policy, kind: .identity)
        } catch {
            #expect(error.code == .malformedPolicyDocument)
        }
    }

    @Test(arguments: ["10.0.0.0/8", "10.1.2.3", "2001:db8::/32", "::1", "0.0.0.0/0"])
    func isAcceptedWhenItIsOne(_ value: String) throws {
        let policy = """
            {"Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Condition": {"IpAddress": \
            {"aws:SourceIp": "\(value)"}}}}
            """
        _ = try PolicyDocument.parse(policy, kind: .identity)
    }
}
