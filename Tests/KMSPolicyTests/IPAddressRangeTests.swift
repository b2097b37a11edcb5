import KMSDomain
import Testing

@testable import KMSPolicy

/// IpAddress and NotIpAddress: parsing of policy and request addresses, and IPv4-mapped IPv6.
@Suite struct IPAddressRangeTests {
    static let alice = "arn:aws:iam::111122223333:user/alice"

    /// An IPv4 client of a dual-stack listener appears as ::ffff:a.b.c.d; the evaluator did not
    /// parse that form at all, so IpAddress never matched it and a Deny on an IPv4 range was
    /// escaped. (The gateway should normalise too: item 10; this is the evaluator's half.)
    @Test func ipv4MappedAddressesMatchIPv4RangesAndTheReverse() {
        func holds(_ op: Condition.Test, _ range: String, _ address: String) -> Bool {
            let condition = Condition(test: op, setForm: .single, ifExists: false, key: "aws:SourceIp", values: [range])
            var context = RequestContext(principalARN: Self.alice, action: "kms:Decrypt", resource: "*")
            context.set("aws:SourceIp", address)
            return condition.holds(in: context)
        }
        #expect(holds(.ipAddress, "10.0.0.0/8", "::ffff:10.1.2.3"))
        #expect(holds(.ipAddress, "10.0.0.0/8", "::FFFF:a01:203"))
        #expect(!holds(.notIpAddress, "10.0.0.0/8", "::ffff:10.1.2.3"))
        #expect(!holds(.ipAddress, "10.0.0.0/8", "::ffff:11.1.2.3"))
        #expect(holds(.ipAddress, "::ffff:10.0.0.0/104", "10.1.2.3"))
        #expect(holds(.ipAddress, "::ffff:10.1.2.3", "10.1.2.3"))
        #expect(holds(.ipAddress, "203.0.113.7", "::ffff:203.0.113.7"))
        // Only the mapped prefix is IPv4: other embeddings are other addresses.
        #expect(!holds(.ipAddress, "10.0.0.0/8", "64:ff9b::10.1.2.3"))
        #expect(!holds(.ipAddress, "10.0.0.0/8", "::10.1.2.3"))
        #expect(!holds(.ipAddress, "10.0.0.0/8", "0:0:0:0:0:fffe:a01:203"))
    }
}

@Suite struct PolicyParserHardeningTests {
    /// IPAddressRange indexed the first part of "".split(separator: "/"), which is empty: a key
    /// policy with an empty IpAddress value trapped and took kmsd down from PutKeyPolicy.
    @Test(arguments: [
        "", "/", "/8", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/33", "::ffff:1.2.3/8", "1.2.3.4.5",
        "1:2::3::4", "+1.2.3.4",
    ])
    func malformedAddressesAreRefusedNotTrapped(value: String) {
        do {
            _ = try PolicyDocument.parse(
                """
                {"Statement": {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                 "Condition": {"IpAddress": {"aws:SourceIp": "\(value)"}}}}
                """, kind: .resource)
            Issue.record("accepted \(value)")
        } catch {
            #expect(error.code == .malformedPolicyDocument)
        }
    }

    @Test(arguments: [
        "10.0.0.0/8", "::ffff:10.0.0.0/104", "::1.2.3.4", "2001:db8::/32", "1:2:3:4:5:6:7::", "1:2:3:4:5:6:1.2.3.4",
        "0.0.0.0/0",
    ])
    func wellFormedAddressesAreAccepted(value: String) throws {
        _ = try PolicyDocument.parse(
            """
            {"Statement": {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
             "Condition": {"IpAddress": {"aws:SourceIp": "\(value)"}}}}
            """, kind: .resource)
    }
}
