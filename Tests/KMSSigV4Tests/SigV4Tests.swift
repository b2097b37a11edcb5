import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSSigV4
import Testing

/// SigV4 against published vectors: the AWS documentation's worked example, cases of the
/// official aws-sig-v4-test-suite (the files botocore ships in tests/unit/auth/aws4_testsuite),
/// and KMS requests as botocore 1.43 / boto3 1.43 sign them. Where a vector publishes the
/// canonical request or the string to sign, those are compared too: a wrong signature says only
/// that something differs, a wrong canonical request says which line.
@Suite struct SigV4Tests {
    static let exampleSecret = Array("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".utf8)
    static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func signingKeyHex(_ key: SymmetricKey) -> String { key.withUnsafeBytes { Hex.encode($0) } }

    // MARK: - The AWS documentation's example

    /// "Create a signed AWS API request": IAM ListUsers, GET with the query in the URL.
    @Test func theDocumentationExampleSignsAsPublished() throws {
        let canonical = SigV4.canonicalRequest(
            method: "GET", path: "/", query: "Action=ListUsers&Version=2010-05-08",
            headers: [
                ("Host", "iam.amazonaws.com"),
                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                ("X-Amz-Date", "20150830T123600Z"),
            ],
            signedHeaders: ["content-type", "host", "x-amz-date"], payloadSHA256Hex: SigV4.sha256Hex([UInt8]())
        )
        #expect(
            canonical == """
                GET
                /
                Action=ListUsers&Version=2010-05-08
                content-type:application/x-www-form-urlencoded; charset=utf-8
                host:iam.amazonaws.com
                x-amz-date:20150830T123600Z

                content-type;host;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        #expect(SigV4.sha256Hex(canonical.utf8) == "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
        let toSign = SigV4.stringToSign(
            amzDate: "20150830T123600Z", scope: "20150830/us-east-1/iam/aws4_request", canonicalRequest: canonical)
        #expect(
            toSign == """
                AWS4-HMAC-SHA256
                20150830T123600Z
                20150830/us-east-1/iam/aws4_request
                f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59
                """)
        let key = SigV4.signingKey(secret: Self.exampleSecret, date: "20150830", region: "us-east-1", service: "iam")
        #expect(Self.signingKeyHex(key) == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
        let signature = SigV4.signature(signingKey: key, stringToSign: toSign)
        #expect(Hex.encode(signature) == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
        #expect(SigV4.verify(signature: signature, signingKey: key, stringToSign: toSign))
    }

    // MARK: - aws-sig-v4-test-suite

    /// One case of the suite: host example.amazonaws.com, X-Amz-Date 20150830T123600Z,
    /// AKIDEXAMPLE, region us-east-1, service "service".
    struct SuiteCase: Sendable, CustomTestStringConvertible {
        var name: String
        var method = "GET"
        var path = "/"
        var query = ""
        var headers: [(name: String, value: String)] = []
        var body = ""
        var signedHeaders = ["host", "x-amz-date"]
        /// The published .creq, where we compare it whole.
        var canonicalRequest: String? = nil
        /// The last line of the published .sts.
        var canonicalRequestSHA256: String? = nil
        /// From the published .authz.
        var signature: String

        var testDescription: String { name }
    }

    static let suite: [SuiteCase] = [
        SuiteCase(
            name: "get-vanilla",
            canonicalRequest:
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptySHA256)",
            canonicalRequestSHA256: "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        ),
        SuiteCase(
            name: "get-vanilla-query-order-key-case", query: "Param2=value2&Param1=value1",
            canonicalRequest:
                "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost"
                + ";x-amz-date\n\(emptySHA256)",
            canonicalRequestSHA256: "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ),
        SuiteCase(
            name: "get-vanilla-query-order-value", query: "Param1=value2&Param1=value1",
            signature: "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"
        ),
        SuiteCase(
            name: "get-vanilla-utf8-query", query: "\u{1234}=bar",
            signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"
        ),
        SuiteCase(
            name: "get-unreserved", path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"
        ),
        SuiteCase(
            name: "normalize-path/get-slashes", path: "//example//",
            signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"
        ),
        SuiteCase(
            name: "get-header-value-trim",
            headers: [("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            signedHeaders: ["host", "my-header1", "my-header2", "x-amz-date"],
            canonicalRequest: """
                GET
                /

                host:example.amazonaws.com
                my-header1:value1
                my-header2:"a b c"
                x-amz-date:20150830T123600Z

                host;my-header1;my-header2;x-amz-date
                \(emptySHA256)
                """,
            canonicalRequestSHA256: "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
            signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
        ),
        SuiteCase(
            name: "get-header-value-order",
            headers: [
                ("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2"),
            ],
            signedHeaders: ["host", "my-header1", "x-amz-date"],
            signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"
        ),
        SuiteCase(
            name: "get-header-key-duplicate",
            headers: [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
            signedHeaders: ["host", "my-header1", "x-amz-date"],
            signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"
        ),
        SuiteCase(
            name: "post-x-www-form-urlencoded", method: "POST",
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1",
            signedHeaders: ["content-type", "host", "x-amz-date"],
            canonicalRequest: """
                POST
                /

                content-type:application/x-www-form-urlencoded
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                content-type;host;x-amz-date
                9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
                """,
            canonicalRequestSHA256: "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
            signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        ),
    ]

    @Test(arguments: suite) func theTestSuiteSignsAsPublished(_ vector: SuiteCase) throws {
        let headers: [(name: String, value: String)] =
            [("Host", "example.amazonaws.com")] + vector.headers + [("X-Amz-Date", "20150830T123600Z")]
        let canonical = SigV4.canonicalRequest(
            method: vector.method, path: vector.path, query: vector.query, headers: headers,
            signedHeaders: vector.signedHeaders, payloadSHA256Hex: SigV4.sha256Hex(vector.body.utf8)
        )
        if let expected = vector.canonicalRequest { #expect(canonical == expected) }
        if let expected = vector.canonicalRequestSHA256 { #expect(SigV4.sha256Hex(canonical.utf8) == expected) }

        // Through the header, as the front end will receive it.
        let header =
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=\(vector.signedHeaders.joined(separator: ";")), Signature=\(vector.signature)"
        let authorization = try SigV4.parseAuthorization(header)
        #expect(authorization.scope == "20150830/us-east-1/service/aws4_request")
        let toSign = SigV4.stringToSign(
            amzDate: "20150830T123600Z", scope: authorization.scope, canonicalRequest: canonical)
        let key = SigV4.signingKey(
            secret: Self.exampleSecret, date: authorization.date, region: authorization.region,
            service: authorization.service)
        #expect(Hex.encode(SigV4.signature(signingKey: key, stringToSign: toSign)) == vector.signature)
        #expect(SigV4.verify(signature: authorization.signature, signingKey: key, stringToSign: toSign))
    }

    /// The suite's normalize-path cases (canonical URI lines from their .creq files), and the
    /// double encoding of a path that arrives percent-encoded.
    @Test(arguments: [
        ("/example/..", "/"),  // get-relative
        ("/example1/example2/../..", "/"),  // get-relative-relative
        ("//", "/"),  // get-slash
        ("/./", "/"),  // get-slash-dot-slash
        ("/./example", "/example"),  // get-slash-pointless-dot
        ("//example//", "/example/"),  // get-slashes
        ("/example space/", "/example%20space/"),  // get-space
        ("/\u{1234}", "/%E1%88%B4"),  // get-utf8
        ("/example%20space/", "/example%2520space/"),
        ("/a/%2E%2E/b", "/a/%252E%252E/b"),
        ("", "/"),
        ("/", "/"),
    ])
    func pathsCanonicalizeAsTheSuiteSays(_ path: String, _ expected: String) {
        let canonical = SigV4.canonicalRequest(
            method: "GET", path: path, query: "", headers: [("Host", "example.amazonaws.com")],
            signedHeaders: ["host"], payloadSHA256Hex: Self.emptySHA256
        )
        #expect(canonical.split(separator: "\n", omittingEmptySubsequences: false)[1] == Substring(expected))
    }

    @Test(arguments: [
        ("Param2=value2&Param1=value1", "Param1=value1&Param2=value2"),
        ("Param1=value2&Param1=value1", "Param1=value1&Param1=value2"),
        ("b&a=1", "a=1&b="),  // no '=' means an empty value
        ("Param1=", "Param1="),
        ("q=a%20b", "q=a%20b"),  // already encoded: not encoded again
        ("q=a b", "q=a%20b"),
        ("q=a+b", "q=a%2Bb"),  // '+' is a plus, not a space
        ("q=a%2fb", "q=a%2Fb"),  // escapes come out uppercase
        ("a=1=2", "a=1%3D2"),
        ("B=1&a=2", "B=1&a=2"),  // byte order: uppercase first
        ("-._~=-._~", "-._~=-._~"),
        ("", ""),
    ])
    func queriesCanonicalizeAsTheSpecificationSays(_ query: String, _ expected: String) {
        let canonical = SigV4.canonicalRequest(
            method: "GET", path: "/", query: query, headers: [("Host", "example.amazonaws.com")],
            signedHeaders: ["host"], payloadSHA256Hex: Self.emptySHA256
        )
        #expect(canonical.split(separator: "\n", omittingEmptySubsequences: false)[2] == Substring(expected))
    }

    // MARK: - KMS requests as boto3 signs them

    /// The KMS request shape, signed by botocore 1.43.11's `SigV4Auth` (add_auth with the clock
    /// pinned to 2015-08-30T12:36:00Z); canonical request and string to sign as botocore built them.
    @Test func aKMSRequestSignedByBotocoreVerifies() throws {
        let body = #"{"KeyId":"alias/x","Plaintext":"AQID"}"#
        let payloadHash = SigV4.sha256Hex(Data(body.utf8))
        #expect(payloadHash == "42b03e1a349acabac42f561a312702754ae0de1b30c78fe82a9f863d37015756")
        let authorization = try SigV4.parseAuthorization(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20150830/us-east-1/kms/aws4_request, "
                + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                + "Signature=6f6eff72354eb1adffdd5ad54b894db86b13344755b45090b860873a11960760"
        )
        let canonical = SigV4.canonicalRequest(
            method: "POST", path: "/", query: "",
            headers: [
                ("Host", "127.0.0.1:7400"),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "TrentService.Encrypt"),
                ("X-Amz-Date", "20150830T123600Z"),
            ],
            signedHeaders: authorization.signedHeaders, payloadSHA256Hex: payloadHash
        )
        #expect(
            canonical == """
                POST
                /

                content-type:application/x-amz-json-1.1
                host:127.0.0.1:7400
                x-amz-date:20150830T123600Z
                x-amz-target:TrentService.Encrypt

                content-type;host;x-amz-date;x-amz-target
                42b03e1a349acabac42f561a312702754ae0de1b30c78fe82a9f863d37015756
                """)
        let toSign = SigV4.stringToSign(
            amzDate: "20150830T123600Z", scope: authorization.scope, canonicalRequest: canonical)
        #expect(
            toSign == """
                AWS4-HMAC-SHA256
                20150830T123600Z
                20150830/us-east-1/kms/aws4_request
                c50aa7ba1ab3a8af69ee9bd508cfe310f88178f25446dd70d4b77b1f726cb792
                """)
        let key = SigV4.signingKey(secret: Self.exampleSecret, date: "20150830", region: "us-east-1", service: "kms")
        #expect(Self.signingKeyHex(key) == "daf4bdf807b2e75aeddb12d90af33760aa260ac37875a093af71f7f0ddda481e")
        #expect(
            Hex.encode(SigV4.signature(signingKey: key, stringToSign: toSign)) == Hex.encode(authorization.signature))
        #expect(SigV4.verify(signature: authorization.signature, signingKey: key, stringToSign: toSign))
    }

    /// Exactly what boto3 1.43.11 sent for `kms.encrypt(KeyId="alias/x", Plaintext=b"\x01\x02\x03")`
    /// to http://127.0.0.1:7400 (captured at before-send, clock pinned), headers in the order it
    /// sent them, the unsigned ones included: the whole front-end path, header to verdict.
    @Test func aRequestCapturedFromBoto3Verifies() throws {
        let headers: [(name: String, value: String)] = [
            ("Host", "127.0.0.1:7400"),
            ("X-Amz-Target", "TrentService.Encrypt"),
            ("Content-Type", "application/x-amz-json-1.1"),
            (
                "User-Agent",
                "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.18.44-fc-v595 md/arch#x86_64 lang/python#3.11.7 "
                    + "md/pyimpl#CPython m/b,D,N,Z,e cfg/retry-mode#legacy Botocore/1.43.11"
            ),
            ("X-Amz-Date", "20150830T123600Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20150830/us-east-1/kms/aws4_request, "
                    + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                    + "Signature=421badd1b568c4dffd25d9ef1ffb36774bb2aff2fe0f0edd029d46efc5cd99c2"
            ),
            ("amz-sdk-invocation-id", "bfbad3fb-a94b-4f7c-8d48-8f97396c4939"),
            ("amz-sdk-request", "attempt=1"),
            ("Content-Length", "41"),
        ]
        let body = Array(#"{"KeyId": "alias/x", "Plaintext": "AQID"}"#.utf8)
        let amzDate = try #require(headers.first { $0.name == "X-Amz-Date" }?.value)
        let authorization = try SigV4.parseAuthorization(
            try #require(headers.first { $0.name == "Authorization" }?.value))
        #expect(authorization.accessKeyID == "AKIAIOSFODNN7EXAMPLE")
        try SigV4.checkScope(authorization, amzDate: amzDate, region: "us-east-1", service: "kms")
        let requestDate = try #require(SigV4.parseAmzDate(amzDate))
        try SigV4.checkClockSkew(requestDate: requestDate, now: requestDate.addingTimeInterval(60))

        let canonical = SigV4.canonicalRequest(
            method: "POST", path: "/", query: "", headers: headers,
            signedHeaders: authorization.signedHeaders, payloadSHA256Hex: SigV4.sha256Hex(body)
        )
        let toSign = SigV4.stringToSign(amzDate: amzDate, scope: authorization.scope, canonicalRequest: canonical)
        let key = SigV4.signingKey(
            secret: Self.exampleSecret, date: authorization.date, region: authorization.region,
            service: authorization.service)
        #expect(SigV4.verify(signature: authorization.signature, signingKey: key, stringToSign: toSign))

        // The same request with its body changed by one byte does not.
        var tampered = body
        tampered[tampered.count - 3] ^= 0x01
        let tamperedCanonical = SigV4.canonicalRequest(
            method: "POST", path: "/", query: "", headers: headers,
            signedHeaders: authorization.signedHeaders, payloadSHA256Hex: SigV4.sha256Hex(tampered)
        )
        let tamperedToSign = SigV4.stringToSign(
            amzDate: amzDate, scope: authorization.scope, canonicalRequest: tamperedCanonical)
        #expect(!SigV4.verify(signature: authorization.signature, signingKey: key, stringToSign: tamperedToSign))
    }

    // MARK: - verify

    @Test func everySingleBitFlipOfTheSignatureFails() {
        let key = SigV4.signingKey(
            secret: Self.exampleSecret, date: "20150830", region: "us-east-1", service: "service")
        let toSign =
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061"
            + "d46c1f17a8133879d6129b6e1c25292927e63"
        let good = SigV4.signature(signingKey: key, stringToSign: toSign)
        #expect(Hex.encode(good) == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(SigV4.verify(signature: good, signingKey: key, stringToSign: toSign))
        for byte in good.indices {
            for bit in 0..<8 {
                var flipped = good
                flipped[byte] ^= 1 << bit
                #expect(!SigV4.verify(signature: flipped, signingKey: key, stringToSign: toSign))
            }
        }
        #expect(!SigV4.verify(signature: Array(good.dropLast()), signingKey: key, stringToSign: toSign))
        #expect(!SigV4.verify(signature: [], signingKey: key, stringToSign: toSign))
        #expect(!SigV4.verify(signature: good, signingKey: key, stringToSign: toSign + "0"))
        let otherDay = SigV4.signingKey(
            secret: Self.exampleSecret, date: "20150831", region: "us-east-1", service: "service")
        #expect(!SigV4.verify(signature: good, signingKey: otherDay, stringToSign: toSign))
    }

    // MARK: - The Authorization header

    static let goodHeader =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, "
        + "SignedHeaders=content-type;host;x-amz-date, "
        + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"

    @Test func aGoodHeaderParses() throws {
        let parsed = try SigV4.parseAuthorization(Self.goodHeader)
        #expect(
            parsed
                == SigV4.Authorization(
                    accessKeyID: "AKIDEXAMPLE", date: "20150830", region: "us-east-1", service: "kms",
                    signedHeaders: ["content-type", "host", "x-amz-date"],
                    signature: Hex.decode("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")!
                ))
        #expect(parsed.scope == "20150830/us-east-1/kms/aws4_request")
    }

    @Test(arguments: [
        // No space after the commas, as some signers write it.
        "AWS4-HMAC-SHA256 "
            + "Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request,SignedHeaders=content-type;host;x-amz-date,"
            + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        // Any order, extra whitespace.
        "  AWS4-HMAC-SHA256   Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31 , "
            + " Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request,"
            + "\tSignedHeaders=content-type;host;x-amz-date  ",
        "AWS4-HMAC-SHA256 SignedHeaders=content-type;host;x-amz-date, "
            + "Signature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31, "
            + "Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request",
    ])
    func spacingAndOrderDoNotMatter(_ header: String) throws {
        #expect(try SigV4.parseAuthorization(header) == SigV4.parseAuthorization(Self.goodHeader))
    }

    /// The error parsing `header` throws, recorded as an issue at the caller when there is none.
    static func parseError(_ header: String, sourceLocation: SourceLocation = #_sourceLocation) -> KMSError? {
        #expect(throws: KMSError.self, sourceLocation: sourceLocation) { try SigV4.parseAuthorization(header) }
    }

    @Test func aMissingSignatureIsIncomplete() throws {
        let header =
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date"
        let error = try #require(Self.parseError(header))
        #expect(error.code == .incompleteSignature)
        #expect(error.message == "Authorization header requires 'Signature' parameter. Authorization=\(header)")
    }

    @Test func aMissingCredentialIsIncomplete() throws {
        let header =
            "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, "
            + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        let error = try #require(Self.parseError(header))
        #expect(error.code == .incompleteSignature)
        #expect(
            error.message.hasPrefix(
                "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 "))
    }

    @Test func everyMissingPartIsNamed() throws {
        let error = try #require(Self.parseError("AWS4-HMAC-SHA256"))
        #expect(error.code == .incompleteSignature)
        #expect(
            error.message
                == "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' "
                + "parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256"
        )
    }

    @Test(arguments: ["AWS4-HMAC-SHA1", "AWS4-ECDSA-P256-SHA256", "aws4-hmac-sha256", "AWS", ""])
    func anotherAlgorithmIsRefused(_ algorithm: String) throws {
        let header = Self.goodHeader.replacingOccurrences(of: "AWS4-HMAC-SHA256", with: algorithm)
        let error = try #require(Self.parseError(header))
        #expect(error.code == .incompleteSignature)
        #expect(error.message.hasPrefix("Unsupported AWS 'algorithm'"))
    }

    @Test func aScopeWithAnotherTerminatorIsRefused() throws {
        let error = try #require(
            Self.parseError(Self.goodHeader.replacingOccurrences(of: "kms/aws4_request", with: "kms/aws4_reques")))
        #expect(error.code == .incompleteSignature)
        #expect(
            error.message == "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reques'.")
    }

    @Test(arguments: [
        "AKIDEXAMPLE/20150830/us-east-1/aws4_request",  // no service
        "AKIDEXAMPLE/20150830/us-east-1/kms/x/aws4_request",  // one part too many
        "/20150830/us-east-1/kms/aws4_request",  // no access key id
        "AKIDEXAMPLE/2015083/us-east-1/kms/aws4_request",  // not yyyyMMdd
        "AKIDEXAMPLE/2015-08-30/us-east-1/kms/aws4_request",
        "AKIDEXAMPLE/20150830//kms/aws4_request",  // no region
    ])
    func aMalformedCredentialIsRefused(_ credential: String) throws {
        let header =
            "AWS4-HMAC-SHA256 Credential=\(credential), SignedHeaders=host, "
            + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        #expect(Self.parseError(header)?.code == .incompleteSignature)
    }

    @Test(arguments: [
        "host;content-type;x-amz-date",  // unsorted
        "content-type;Host;x-amz-date",  // uppercase
        "Content-Type;host;X-Amz-Date",
        "content-type;host;host",  // duplicate
        "content-type;;host",  // empty entry
        "content-type;host;",
        "content-type; host",  // whitespace inside
        "",
    ])
    func signedHeadersThatNoSignerWritesAreRefused(_ signedHeaders: String) throws {
        let header = Self.goodHeader.replacingOccurrences(of: "content-type;host;x-amz-date", with: signedHeaders)
        #expect(Self.parseError(header)?.code == .incompleteSignature)
    }

    @Test func signedHeadersMustIncludeHost() throws {
        let header = Self.goodHeader.replacingOccurrences(
            of: "content-type;host;x-amz-date", with: "content-type;x-amz-date")
        let error = try #require(Self.parseError(header))
        #expect(error.code == .incompleteSignature)
        #expect(error.message == "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    }

    @Test(arguments: [
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3",  // 63 digits
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3100",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3g",
        "",
    ])
    func aSignatureThatIsNot32BytesOfHexIsRefused(_ signature: String) throws {
        let header = Self.goodHeader.replacingOccurrences(
            of: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", with: signature)
        #expect(Self.parseError(header)?.code == .incompleteSignature)
    }

    @Test func aPartWithoutAnEqualsSignIsRefused() throws {
        let error = try #require(Self.parseError(Self.goodHeader + ", Bogus"))
        #expect(error.code == .incompleteSignature)
        #expect(
            error.message.hasPrefix("'Bogus' not a valid key=value pair (missing equal-sign) in Authorization header: ")
        )
    }

    @Test func aRepeatedPartIsRefused() throws {
        let header = Self.goodHeader + ", Signature=0000000000000000000000000000000000000000000000000000000000000000"
        #expect(Self.parseError(header)?.code == .incompleteSignature)
    }

    @Test func aHugeHeaderIsNotEchoedWhole() throws {
        let header = "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + String(repeating: "ab", count: 10_000)
        let error = try #require(Self.parseError(header))
        #expect(error.code == .incompleteSignature)
        #expect(error.message.count < 600)
    }

    // MARK: - Scope

    @Test func theScopeMustMatchTheDateRegionAndService() throws {
        let authorization = try SigV4.parseAuthorization(Self.goodHeader)
        try SigV4.checkScope(authorization, amzDate: "20150830T123600Z", region: "us-east-1", service: "kms")

        let wrongDay = #expect(throws: KMSError.self) {
            try SigV4.checkScope(authorization, amzDate: "20150831T000100Z", region: "us-east-1", service: "kms")
        }
        #expect(wrongDay?.code == .invalidClientSignature)
        #expect(
            wrongDay?.message
                == "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                + "'20150830' != '20150831', from '20150831T000100Z'."
        )
        let wrongRegion = #expect(throws: KMSError.self) {
            try SigV4.checkScope(authorization, amzDate: "20150830T123600Z", region: "eu-west-1", service: "kms")
        }
        #expect(wrongRegion?.code == .invalidClientSignature)
        let wrongService = #expect(throws: KMSError.self) {
            try SigV4.checkScope(authorization, amzDate: "20150830T123600Z", region: "us-east-1", service: "s3")
        }
        #expect(wrongService?.code == .invalidClientSignature)
    }

    // MARK: - X-Amz-Date and clock skew

    @Test func amzDatesParseByHand() throws {
        #expect(SigV4.parseAmzDate("20150830T123600Z") == Date(timeIntervalSince1970: 1_440_938_160))
        #expect(SigV4.parseAmzDate("19700101T000000Z") == Date(timeIntervalSince1970: 0))
        #expect(SigV4.parseAmzDate("20160229T235959Z") == Date(timeIntervalSince1970: 1_456_790_399))
        #expect(SigV4.parseAmzDate("20000229T000000Z") != nil)
        #expect(SigV4.formatAmzDate(Date(timeIntervalSince1970: 1_440_938_160.9)) == "20150830T123600Z")
        #expect(SigV4.formatAmzDate(Date(timeIntervalSince1970: 1_456_790_399)) == "20160229T235959Z")
        #expect(SigV4.formatAmzDate(Date(timeIntervalSince1970: -1)) == "19691231T235959Z")
        for text in ["20150830T123600Z", "20991231T235959Z", "20240101T000000Z", "19991231T120000Z"] {
            #expect(SigV4.formatAmzDate(try #require(SigV4.parseAmzDate(text))) == text)
        }
    }

    @Test(arguments: [
        "20150230T000000Z",  // February 30
        "20150229T000000Z",  // not a leap year
        "21000229T000000Z",  // nor is 2100
        "20151301T000000Z", "20150001T000000Z", "20150800T000000Z",
        "20150830T240000Z", "20150830T126000Z", "20150830T123660Z",
        "20150830T123600", "20150830T123600ZZ", "20150830t123600Z", "20150830T123600z",
        "2015-08-30T12:36:00Z", "20150830 123600Z", "+0150830T123600Z", "",
        "２0150830T123600Z",  // a fullwidth digit
    ])
    func malformedAmzDatesAreRefused(_ text: String) {
        #expect(SigV4.parseAmzDate(text) == nil)
    }

    @Test func withinFifteenMinutesEitherWayIsAccepted() throws {
        let request = try #require(SigV4.parseAmzDate("20150830T123600Z"))
        for offset: TimeInterval in [-900, -14 * 60, 0, 14 * 60, 900] {
            #expect(throws: Never.self) {
                try SigV4.checkClockSkew(requestDate: request, now: request.addingTimeInterval(offset))
            }
        }
    }

    @Test func sixteenMinutesOldIsExpired() throws {
        let request = try #require(SigV4.parseAmzDate("20150830T123600Z"))
        let error = #expect(throws: KMSError.self) {
            try SigV4.checkClockSkew(requestDate: request, now: request.addingTimeInterval(16 * 60))
        }
        #expect(error?.code == .invalidClientSignature)
        #expect(
            error?.message
                == "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 "
                + "min.)"
        )

        let twenty = #expect(throws: KMSError.self) {
            try SigV4.checkClockSkew(requestDate: request, now: request.addingTimeInterval(20 * 60))
        }
        #expect(
            twenty?.message
                == "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T125600Z - 15 "
                + "min.)"
        )
    }

    @Test func sixteenMinutesAheadIsNotYetCurrent() throws {
        let request = try #require(SigV4.parseAmzDate("20150830T123600Z"))
        let error = #expect(throws: KMSError.self) {
            try SigV4.checkClockSkew(requestDate: request, now: request.addingTimeInterval(-16 * 60))
        }
        #expect(error?.code == .invalidClientSignature)
        #expect(
            error?.message
                == "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z "
                + "(20150830T122000Z + 15 min.)"
        )
    }

    @Test func theLimitIsTheCallers() throws {
        let request = try #require(SigV4.parseAmzDate("20150830T123600Z"))
        #expect(throws: KMSError.self) {
            try SigV4.checkClockSkew(requestDate: request, now: request.addingTimeInterval(61), limit: 60)
        }
        #expect(throws: Never.self) {
            try SigV4.checkClockSkew(requestDate: request, now: request.addingTimeInterval(59), limit: 60)
        }
    }

    // MARK: - Helpers

    @Test func hashingAndHexAgreeAcrossInputTypes() {
        #expect(SigV4.sha256Hex([UInt8]()) == Self.emptySHA256)
        #expect(SigV4.sha256Hex(Data()) == Self.emptySHA256)
        let text = "Param1=value1"
        let expected = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        #expect(SigV4.sha256Hex(text.utf8) == expected)
        #expect(SigV4.sha256Hex(Array(text.utf8)) == expected)
        #expect(SigV4.sha256Hex(Data(text.utf8)) == expected)
        #expect(SigV4.sha256Hex(Array(text.utf8)[...]) == expected)
        #expect(SigV4.sha256Hex(AnySequence(text.utf8)) == expected)
        #expect(Hex.encode([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(Hex.decode("000FA0ff") == [0x00, 0x0f, 0xa0, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test func theSigningKeyTakesAnyContiguousBytes() {
        let fromArray = SigV4.signingKey(
            secret: Self.exampleSecret, date: "20150830", region: "us-east-1", service: "iam")
        let fromData = SigV4.signingKey(
            secret: Data(Self.exampleSecret), date: "20150830", region: "us-east-1", service: "iam")
        #expect(fromArray == fromData)
        #expect(Self.signingKeyHex(fromData) == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }
}

/// What binds a signature to the request as it will be served: which headers must be signed,
/// that none is repeated, the body hash, and the host names an endpoint answers to.
@Suite struct SigV4BindingTests {
    /// boto3 1.43.11's Encrypt as sent (SigV4Tests.aRequestCapturedFromBoto3Verifies): unsigned
    /// User-Agent, amz-sdk-* and Content-Length, which botocore never signs.
    static let boto3: [(name: String, value: String)] = [
        ("Host", "127.0.0.1:7400"),
        ("X-Amz-Target", "TrentService.Encrypt"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("User-Agent", "Boto3/1.43.11 md/Botocore#1.43.11"),
        ("X-Amz-Date", "20150830T123600Z"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20150830/us-east-1/kms/aws4_request, "
                + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                + "Signature=421badd1b568c4dffd25d9ef1ffb36774bb2aff2fe0f0edd029d46efc5cd99c2"
        ),
        ("amz-sdk-invocation-id", "bfbad3fb-a94b-4f7c-8d48-8f97396c4939"),
        ("amz-sdk-request", "attempt=1"),
        ("Content-Length", "41"),
        ("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
    ]
    static let signed = ["content-type", "host", "x-amz-date", "x-amz-target"]

    static func refusal(_ headers: [(name: String, value: String)], signed: [String] = signed) -> KMSError? {
        do {
            try SigV4.checkSignedHeaders(headers, signedHeaders: signed)
            return nil
        } catch {
            return error
        }
    }

    @Test func whatBoto3SendsPasses() throws {
        try SigV4.checkSignedHeaders(Self.boto3, signedHeaders: Self.signed)
    }

    /// The replay of issue 15: a request whose X-Amz-Target is not signed could be sent again as
    /// any other operation. Now it is refused before any key is looked up.
    @Test(arguments: ["x-amz-target", "content-type", "x-amz-date"])
    func anUnsignedOperationHostOrTypeIsRefused(_ left: String) throws {
        let error = try #require(Self.refusal(Self.boto3, signed: Self.signed.filter { $0 != left }))
        #expect(error.code == .incompleteSignature)
        #expect(error.message.contains("not signed: \(left)"))
    }

    @Test(arguments: ["X-Amz-Security-Token", "x-amz-content-sha256", "X-AMZ-Anything"])
    func anyUnsignedAmzHeaderIsRefused(_ name: String) throws {
        let error = try #require(Self.refusal(Self.boto3 + [(name, "x")]))
        #expect(error.code == .incompleteSignature)
        #expect(error.message.contains(name.lowercased()))
        // Signed, it is fine.
        let signed = (Self.signed + [name.lowercased()]).sorted()
        #expect(Self.refusal(Self.boto3 + [(name, "x")], signed: signed) == nil)
    }

    /// A repeat would be joined into one signed line while the endpoint reads only one value.
    @Test(arguments: ["X-Amz-Target", "x-amz-target", "HOST", "Content-Type", "Authorization", "X-Amz-Date"])
    func aRepeatedHeaderIsRefused(_ name: String) throws {
        let error = try #require(Self.refusal(Self.boto3 + [(name, "TrentService.DisableKey")]))
        #expect(error.code == .incompleteSignature)
        #expect(error.message.contains("more than one '\(name.lowercased())'"))
    }

    @Test func aRepeatedHeaderThatChangesNothingIsAllowed() throws {
        try SigV4.checkSignedHeaders(
            Self.boto3 + [("Accept", "*/*"), ("Accept", "application/json")], signedHeaders: Self.signed)
    }

    @Test func aSignedHeaderTheRequestLacksIsNamed() throws {
        let error = try #require(Self.refusal(Self.boto3, signed: (Self.signed + ["accept"]).sorted()))
        #expect(error.code == .incompleteSignature)
        #expect(error.message == "'accept' is named as a SignedHeader, but it does not exist in the HTTP request.")
    }

    /// Past a handful of names the lookups are hashed (`linearLimit`): the same answers for a
    /// request with many headers and many signed names.
    @Test func manyHeadersAndSignedNamesAreCheckedAlike() throws {
        let extra = (0..<40).map { (name: "X-Amz-Meta-\($0)", value: "v") }
        let extraNames = extra.map { $0.name.lowercased() }
        let signed = (Self.signed + extraNames).sorted()
        try SigV4.checkSignedHeaders(Self.boto3 + extra, signedHeaders: signed)
        let unsigned = try #require(Self.refusal(Self.boto3 + extra, signed: signed.filter { $0 != "x-amz-meta-7" }))
        #expect(unsigned.message.contains("not signed: x-amz-meta-7."))
        let repeated = try #require(Self.refusal(Self.boto3 + extra + [("X-Amz-Meta-3", "w")], signed: signed))
        #expect(repeated.message.contains("more than one 'x-amz-meta-3'"))
        let absent = try #require(Self.refusal(Self.boto3 + extra.dropLast(), signed: signed))
        #expect(
            absent.message == "'x-amz-meta-39' is named as a SignedHeader, but it does not exist in the HTTP request.")
    }

    @Test func theBodyHashIsCheckedWhenSent() throws {
        let hash = SigV4.sha256Hex(Array("{}".utf8))
        try SigV4.checkContentSHA256(nil, bodySHA256Hex: hash)
        try SigV4.checkContentSHA256(hash, bodySHA256Hex: hash)
        for (declared, code) in [
            (hash.uppercased(), KMSError.Code.invalidClientSignature),
            (SigV4.sha256Hex(Array("{ }".utf8)), .invalidClientSignature),
            ("", .invalidClientSignature),
            ("UNSIGNED-PAYLOAD", .incompleteSignature),
            ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", .incompleteSignature),
        ] {
            do {
                try SigV4.checkContentSHA256(declared, bodySHA256Hex: hash)
                Issue.record("x-amz-content-sha256 '\(declared)' was accepted")
            } catch {
                #expect(error.code == code, "\(declared)")
            }
        }
    }

    // MARK: - Host names

    @Test func hostsMatchByNameAndOptionalPort() throws {
        let hosts = try SigV4.HostNames(["kms.internal", "127.0.0.1:7480", "*.kms.example.com", "[::1]", "KMS.Upper."])
        for allowed in [
            "kms.internal", "kms.internal:7480", "kms.internal:443", "KMS.INTERNAL.", "127.0.0.1:7480",
            "a.kms.example.com", "a.kms.example.com:8443", "[::1]:7480", "[0:0::1]", "kms.upper",
        ] {
            #expect(hosts.allows(host: allowed, defaultPort: 443), "\(allowed)")
        }
        for refused in [
            "127.0.0.1", "127.0.0.1:7481", "kms.example.com", "a.b.kms.example.com", "evil.internal",
            "kms.internal.evil", "::1", "[::2]", "user@kms.internal", "kms.internal:0", "kms.internal:70000",
            "kms.internal:x", "kms internal", "", "[::1", "*.kms.example.com", "127.0.0.1:7480:1",
        ] {
            #expect(!hosts.allows(host: refused, defaultPort: 443), "\(refused)")
        }
        // 127.0.0.1:7480 without a port in the Host means the scheme's default.
        #expect(hosts.allows(host: "127.0.0.1", defaultPort: 7480))
    }

    @Test func aStarAcceptsAnyWellFormedHost() throws {
        let hosts = try SigV4.HostNames(["*"])
        #expect(hosts.allows(host: "anything.example:1", defaultPort: 80))
        #expect(!hosts.allows(host: "bad host", defaultPort: 80))
    }

    @Test(arguments: ["", "kms internal", "::1", "*.10.0.0.1", "host:99999", "a/b", "*", "x:"])
    func entriesAreChecked(_ entry: String) {
        if entry == "*" || entry == "x:" {
            #expect(throws: Never.self) { try SigV4.HostNames([entry]) }
        } else {
            #expect(throws: KMSError.self) { try SigV4.HostNames([entry]) }
        }
    }

    @Test func theListPrintsAsItIsConfigured() throws {
        #expect(
            try SigV4.HostNames(["b.example:80", "[::1]", "*.a.example", "b.example:80"]).description
                == "b.example:80, [::1], *.a.example")
    }

    /// Header names match signed names without ASCII case, never through Unicode case mapping:
    /// the Kelvin sign lowercases to "k", and must not stand in for a signed header "k".
    @Test func headerNamesMatchByASCIICaseOnly() {
        let canonical = SigV4.canonicalRequest(
            method: "POST", path: "/", query: "",
            headers: [("HOST", "kms.example"), ("\u{212A}", "smuggled"), ("k", "real"), ("X-Amz-Date", " a  b ")],
            signedHeaders: ["host", "k", "x-amz-date"], payloadSHA256Hex: "e3b0"
        )
        #expect(canonical == "POST\n/\n\nhost:kms.example\nk:real\nx-amz-date:a b\n\nhost;k;x-amz-date\ne3b0")
    }
}
