import Crypto
import Foundation
import KMSCrypto
import KMSDomain
import KMSSigV4

/// SigV4 on the receiving side: the Authorization header parser, X-Amz-Date, the scope and
/// clock checks, and the canonical request (every input of which is what arrived on the wire).
///
/// Input: one byte that chooses the method, then lines: the Authorization header, the path, the
/// query, X-Amz-Date, then headers as `name:value`. Properties:
/// - the parser throws only IncompleteSignatureException, and what it accepts is well formed
///   (signed headers lowercase, sorted, unique, with host; a 32-byte signature; an 8-digit date)
///   and parses to the same from the header a signer would write for it;
/// - the scope and clock checks throw only InvalidSignatureException, and exactly when they must;
/// - an X-Amz-Date that parses formats back to the same text;
/// - the canonical request has one line per part and per signed header, a path of unreserved
///   characters and %XX escapes without empty or dot segments, a query line that canonicalises
///   to itself, header values without surrounding or repeated whitespace;
/// - a signature computed over it verifies, and the client's verifies only if it is that one.
enum SigV4Target {
    static let target = FuzzTarget(name: "sigv4", run: run, seeds: seeds)
    static let methods = ["POST", "GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "post"]
    static let secret = Array("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".utf8)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let method = methods[Int(input.byte()) % methods.count]
        let authorizationHeader = input.line()
        let path = input.line()
        let query = input.line()
        let amzDate = input.line()
        var headers: [(name: String, value: String)] = []
        while !input.isEmpty {
            let line = input.line()
            if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            } else {
                headers.append((line, ""))
            }
        }
        headers.append(("X-Amz-Date", amzDate))

        let authorization = checkAuthorization(authorizationHeader)
        checkDate(amzDate)
        if let authorization {
            do {
                try SigV4.checkScope(authorization, amzDate: amzDate, region: "us-east-1", service: "kms")
                require(
                    authorization.date == String(amzDate.prefix(8)) && authorization.region == "us-east-1"
                        && authorization.service == "kms",
                    "checkScope accepted another scope")
            } catch {
                require(error.code == .invalidClientSignature, "checkScope threw \(error.code)")
            }
        }
        let signedHeaders = authorization?.signedHeaders ?? ["host", "x-amz-date"]
        let canonical = SigV4.canonicalRequest(
            method: method, path: path, query: query, headers: headers, signedHeaders: signedHeaders,
            payloadSHA256Hex: SigV4.sha256Hex(Array(query.utf8))
        )
        checkCanonicalRequest(canonical, method: method, headers: headers, signedHeaders: signedHeaders)

        let scope = authorization?.scope ?? "20150830/us-east-1/kms/aws4_request"
        let toSign = SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical)
        let key = SigV4.signingKey(
            secret: secret, date: authorization?.date ?? "20150830", region: authorization?.region ?? "us-east-1",
            service: authorization?.service ?? "kms")
        let expected = SigV4.signature(signingKey: key, stringToSign: toSign)
        require(
            SigV4.verify(signature: expected, signingKey: key, stringToSign: toSign),
            "a signature does not verify against its own string to sign")
        if let authorization {
            require(
                SigV4.verify(signature: authorization.signature, signingKey: key, stringToSign: toSign)
                    == (authorization.signature == expected),
                "verify disagrees with the signature computed over the same string")
        }
    }

    static func checkAuthorization(_ header: String) -> SigV4.Authorization? {
        let authorization: SigV4.Authorization
        do {
            authorization = try SigV4.parseAuthorization(header)
        } catch {
            require(error.code == .incompleteSignature, "parseAuthorization threw \(error.code)")
            return nil
        }
        let names = authorization.signedHeaders
        require(names.contains("host"), "signed headers without host were accepted")
        require(
            zip(names, names.dropFirst()).allSatisfy { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) },
            "signed headers that are not sorted and unique were accepted")
        require(
            names.allSatisfy {
                !$0.isEmpty
                    && $0.utf8.allSatisfy {
                        !(65...90).contains($0) && $0 > 32 && $0 < 127
                            && ![UInt8(ascii: ";"), UInt8(ascii: ":")].contains($0)
                    }
            },
            "a signed header name that is not a lowercase token was accepted: \(names)")
        require(
            authorization.signature.count == 32, "a signature of \(authorization.signature.count) bytes was accepted")
        require(
            authorization.date.utf8.count == 8 && authorization.date.utf8.allSatisfy { (48...57).contains($0) },
            "a scope date that is not 8 digits was accepted")
        let written =
            "AWS4-HMAC-SHA256 Credential=\(authorization.accessKeyID)/\(authorization.scope), "
            + "SignedHeaders=\(names.joined(separator: ";")), Signature=\(Hex.encode(authorization.signature))"
        do {
            let reparsed = try SigV4.parseAuthorization(written)
            require(
                reparsed == authorization, "the header written for what was parsed parses to something else: \(written)"
            )
        } catch {
            require(false, "the header written for what was parsed does not parse: \(error.message)")
        }
        return authorization
    }

    static func checkDate(_ text: String) {
        guard let date = SigV4.parseAmzDate(text) else { return }
        require(SigV4.formatAmzDate(date) == text, "X-Amz-Date \(text) formats back as \(SigV4.formatAmzDate(date))")
        do {
            try SigV4.checkClockSkew(requestDate: date, now: FuzzKeys.now)
            require(
                abs(date.timeIntervalSince(FuzzKeys.now)) <= SigV4.defaultClockSkewLimit,
                "a date outside the skew window was accepted")
        } catch {
            require(error.code == .invalidClientSignature, "checkClockSkew threw \(error.code)")
            require(
                abs(date.timeIntervalSince(FuzzKeys.now)) > SigV4.defaultClockSkewLimit,
                "a date inside the skew window was refused")
        }
    }

    static func checkCanonicalRequest(
        _ canonical: String, method: String, headers: [(name: String, value: String)], signedHeaders: [String]
    ) {
        let lines = canonical.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        require(
            lines.count == 6 + signedHeaders.count,
            "the canonical request has \(lines.count) lines for \(signedHeaders.count) signed headers")
        require(lines[0] == method, "the method line is not the method")

        let uri = Array(lines[1].utf8)
        require(uri.first == UInt8(ascii: "/"), "the path line does not start with /")
        require(
            isEscaped(uri, alsoAllowed: "/"),
            "the path line has a character that should be escaped: \(lines[1].prefix(256))")
        let segments = lines[1].split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            require(segment != "." && segment != "..", "the path line kept a dot segment")
            require(!segment.isEmpty || index == segments.count - 1, "the path line has an empty segment")
        }

        let queryLine = lines[2]
        require(
            isEscaped(Array(queryLine.utf8), alsoAllowed: "&="),
            "the query line has a character that should be escaped: \(queryLine.prefix(256))")
        let again = SigV4.canonicalRequest(
            method: method, path: "/", query: queryLine, headers: [], signedHeaders: [], payloadSHA256Hex: "")
        require(
            again.split(separator: "\n", omittingEmptySubsequences: false)[2] == queryLine,
            "the query line does not canonicalise to itself")

        for (index, name) in signedHeaders.enumerated() {
            let line = lines[3 + index]
            require(line.hasPrefix(name + ":"), "header line \(index) is not for \(name)")
            let value = Array(line.utf8.dropFirst(name.utf8.count + 1))
            let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D]
            require(
                value.first.map { !whitespace.contains($0) } ?? true
                    && value.last.map { !whitespace.contains($0) } ?? true,
                "the value of \(name) keeps surrounding whitespace")
            require(
                !zip(value, value.dropFirst()).contains { whitespace.contains($0) && whitespace.contains($1) }
                    && !value.contains { $0 != 0x20 && whitespace.contains($0) },
                "the value of \(name) keeps a run of whitespace or a tab or line break")
        }
        require(lines[3 + signedHeaders.count].isEmpty, "no empty line after the headers")
        require(
            lines[4 + signedHeaders.count] == signedHeaders.joined(separator: ";"),
            "the signed headers line is not the list")
    }

    /// Only RFC 3986 unreserved characters, `%` with two uppercase hex digits, and `alsoAllowed`.
    static func isEscaped(_ bytes: [UInt8], alsoAllowed: String) -> Bool {
        let allowed = Set(
            Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8) + Array(alsoAllowed.utf8))
        let upperHex = Set(Array("0123456789ABCDEF".utf8))
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, upperHex.contains(bytes[index + 1]), upperHex.contains(bytes[index + 2])
                else { return false }
                index += 3
            } else {
                guard allowed.contains(bytes[index]) else { return false }
                index += 1
            }
        }
        return true
    }

    static func seeds() -> [[UInt8]] {
        func seed(_ method: UInt8, _ lines: [String]) -> [UInt8] {
            [method] + Array(lines.joined(separator: "\n").utf8)
        }
        let boto3 =
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20150830/us-east-1/kms/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
            + "Signature=421badd1b568c4dffd25d9ef1ffb36774bb2aff2fe0f0edd029d46efc5cd99c2"
        let suite =
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
            + "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
        let now = SigV4.formatAmzDate(FuzzKeys.now)
        return [
            seed(
                0,
                [
                    boto3, "/", "", "20150830T123600Z", "Host:127.0.0.1:7400", "X-Amz-Target:TrentService.Encrypt",
                    "Content-Type:application/x-amz-json-1.1", "User-Agent:Boto3/1.43.11 md/Botocore#1.43.11",
                    "Content-Length:41",
                ]),
            seed(
                1,
                [
                    suite, "//example//", "Param1=value1&Param2=value2", "20150830T123600Z",
                    "Host:example.amazonaws.com",
                    "My-Header1: value1", "My-Header2: \"a   b   c\"",
                ]),
            seed(
                1,
                [
                    "AWS4-HMAC-SHA256 "
                        + "Credential=AKID/\(now.prefix(8))/us-east-1/kms/aws4_request,SignedHeaders=host;x-amz-date,"
                        + "Signature="
                        + String(repeating: "ab", count: 32),
                    "/a/./b/../c/%2E%2E/-._~0123456789%41", "b=2&a=1&a=%7e&c&=x&%zz=+", now,
                    "host:kms.us-east-1.amazonaws.com",
                ]),
            seed(
                0,
                [
                    "AWS4-HMAC-SHA256 SignedHeaders=host, Credential=A/20241301/r/s/aws4_request", "/", "",
                    "20240229T235959Z",
                ]),
            seed(
                2,
                [
                    "AWS4-HMAC-SHA256 Credential=A/2015/r/s/aws4_request, SignedHeaders=Host;a, Signature=zz, "
                        + "Signature=00",
                    "", "", "19700101T000000Z",
                ]),
        ]
    }
}
