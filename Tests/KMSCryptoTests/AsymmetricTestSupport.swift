import Foundation
import KMSCrypto
import KMSDomain
import Testing

/// One key per asymmetric spec for the whole test run: RSA-4096 generation takes seconds.
enum TestKeys {
    static let specs: [KeySpec] = [
        .rsa2048, .rsa3072, .rsa4096,
        .eccNistP256, .eccNistP384, .eccNistP521, .eccSecgP256k1, .eccNistEdwards25519,
    ]
    static let rsaSpecs: [KeySpec] = [.rsa2048, .rsa3072, .rsa4096]

    private static let keys: [KeySpec: PrivateKey] = Dictionary(
        uniqueKeysWithValues: specs.map { spec in (spec, try! PrivateKey.generate(spec)) }
    )

    static func key(_ spec: KeySpec) -> PrivateKey { keys[spec]! }
}

/// Material made with the openssl 3.0 command line, to show we read what it writes:
///
///     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -outform DER -out wk.der
///     openssl pkcs8 -topk8 -nocrypt -inform DER -outform DER -in wk.der -out wk8.der
///     openssl pkey -in wk.der -inform DER -pubout -outform DER -out pub.der
///     # material: the 32 bytes 00 01 02 ... 1f
///     openssl rand -out aes.bin 32
///     openssl enc -id-aes256-wrap-pad -K $(xxd -p < aes.bin | tr -d '\n') -iv A65959A6 -in mat.bin -out matw.bin
///     openssl pkeyutl -encrypt -in aes.bin -out aesw.bin -inkey pub.der -keyform DER -pubin \
///         -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
///     cat aesw.bin matw.bin > blob.bin      # RSA_AES_KEY_WRAP_SHA_256, as AWS documents it
///     openssl pkeyutl -encrypt -in mat.bin -out oaep1.bin ... -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1
///     printf 'message signed by the openssl command line' > msg.txt
///     openssl dgst -sha256 -sign wk.der -keyform DER -sigopt rsa_padding_mode:pss \
///         -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256 -out pss.sig msg.txt
///     openssl dgst -sha384 -sign wk.der -keyform DER -out pkcs1.sig msg.txt
enum OpenSSLFixture {
    static let material: [UInt8] = Array(0..<32)
    static let message = Array("message signed by the openssl command line".utf8)

    /// `wk.der` as genpkey writes DER: a PKCS#1 RSAPrivateKey, not a PKCS#8 PrivateKeyInfo.
    static let wrappingKeyPKCS1 = base64(
        """
        MIIEogIBAAKCAQEAu0vlFbbEAFVOZ+yuWlRZ4z4W0zvtHoFY5QRwM+R5tNJT5Ipz/wfn/76qiP72SPINoe9Xqg20boPsAmZU
        BmIx+sM1E1hCvy5muZv7ybob/VIr+QSUlR1V/Heyq0XZAt5uyzdhQApK8vcVbI1aVizUd70Pqkt3OJ+m8a90GMEL4+arJAui
        E9HoI1koi0SXoAdd82cSofplg/L1rwvAbGP8kMEk8+ETPGS0Zhos0U5I64xZ6e1JNdUDbSsFWjXp7aM7LjU++uqhfRsRFBiz
        iNHas1xnztT6VTsaU5/N5vSYVux3Aef/mmdFt1jo23TF2n9YpGyBjZeH0aT4yeKLsWOPTwIDAQABAoIBAAFTsGvlQq5r7EvH
        lsg62I4uSbqCYXos8wSTi1+N8VMxU3kHIBSnXJXojTKLEXlpbMsZmn0XO5C2EsB4ZoT+QhnJzNqPuzbs7O5iTZ51JcidweqY
        OGmo1QvRjBL/9WGHUn3SRrg0IN00ZR/C2ptJfJ6o8lXD0ue0Sqb9fFMs+IwYFArpaJ/8m3XSWlpMLT+Dt9W0FejpKwBbE2+D
        CcYY4P5SAhUnbOFHyGxaZF9NOu/trPSiOfjWKO12+JEBGrPPqazrszyCG/8npiO1hBB8HEbM0hzTOcfzFb/GSZL60Cnce3FK
        RIXEDY5347OHmzH8RLyNyequkfTLgIc2IVp/sn0CgYEA856u3/+el4QY7AIWcnO/KLYrVp1JtswkV+af/wiO0t1U4GJn8+4d
        L+JSOpVVmeg1qdBH0SeE1EuDqGvuBnsbw/C1aXRIpgRUbxb2YQGJoMBVQoQJDHMZ9lbuj4uzd0sssv6zEbl4vsTvE6v66Dh8
        rbiXRckKDr5qU7V0u0uKF2UCgYEAxNB8Rq9ypCNoDy+C+briZffcLNSDTFdGbuxicfk5aB25ydrM93BRt0agO9hknrch7koQ
        +4W4zF4x2XF3ohoNyUr3VtEnBkxdma+xB+2TH5aQpleRNIbztWexU7ZnChFnKKcDMFroZQatqvCrzk83CRUdz0ZaEH/7Vcki
        klpaYqMCgYBqbBZuicbo327Xom3V35RRH4s9EgbCkNkLgRbBnSZvHPrX7oUEvS8I3PAY4WV8j0DqBq9owb+30akY6NUZBaxy
        YvOMtpyJ0Xhk8v38EGTj0UEthmpBgwKDZyRdlqR2Z2OGadcl1gTWKUdbK5S23v4wEWQbux/mou3l1W3B59TSNQKBgHIK+Kgg
        y8YOeiKqfjNktgEt8VfMwFQBEl/9+0Fdj4UkDF7JuRD79W3Er95dklhhd3jTVCnan21Ue4Aq/o5gmHJ2TQHyabF9mJMQOf2F
        DUY1gZXRkeMk+5y2/Aqs2+H6mZL1y6Q+WQEJMKKnmHYQcqyBnudXNaLv9dwMk0rIri0PAoGANquUAgJidzaNInOcwj0B0kZ/
        /qY4kSfJsFgRQbOzV4mlYbb62Cdr76H1cQt0ceYSXsiPUUUuHv6/jwusSTKG4lXALFa2+NUb2JKwuVZfC72ibvQ6XKyJ3PEr
        J8lPebMRkU97VgO9ksckn33+YT6p2YXalmhOPznwTHH9C9V+zoY=
        """)

    /// `openssl pkcs8 -topk8 -nocrypt -inform DER -outform DER -in wk.der`
    static let wrappingKeyPKCS8 = base64(
        """
        MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC7S+UVtsQAVU5n7K5aVFnjPhbTO+0egVjlBHAz5Hm00lPk
        inP/B+f/vqqI/vZI8g2h71eqDbRug+wCZlQGYjH6wzUTWEK/Lma5m/vJuhv9Uiv5BJSVHVX8d7KrRdkC3m7LN2FACkry9xVs
        jVpWLNR3vQ+qS3c4n6bxr3QYwQvj5qskC6IT0egjWSiLRJegB13zZxKh+mWD8vWvC8BsY/yQwSTz4RM8ZLRmGizRTkjrjFnp
        7Uk11QNtKwVaNentozsuNT766qF9GxEUGLOI0dqzXGfO1PpVOxpTn83m9JhW7HcB5/+aZ0W3WOjbdMXaf1ikbIGNl4fRpPjJ
        4ouxY49PAgMBAAECggEAAVOwa+VCrmvsS8eWyDrYji5JuoJheizzBJOLX43xUzFTeQcgFKdcleiNMosReWlsyxmafRc7kLYS
        wHhmhP5CGcnM2o+7Nuzs7mJNnnUlyJ3B6pg4aajVC9GMEv/1YYdSfdJGuDQg3TRlH8Lam0l8nqjyVcPS57RKpv18Uyz4jBgU
        Culon/ybddJaWkwtP4O31bQV6OkrAFsTb4MJxhjg/lICFSds4UfIbFpkX0067+2s9KI5+NYo7Xb4kQEas8+prOuzPIIb/yem
        I7WEEHwcRszSHNM5x/MVv8ZJkvrQKdx7cUpEhcQNjnfjs4ebMfxEvI3J6q6R9MuAhzYhWn+yfQKBgQDznq7f/56XhBjsAhZy
        c78otitWnUm2zCRX5p//CI7S3VTgYmfz7h0v4lI6lVWZ6DWp0EfRJ4TUS4Ooa+4GexvD8LVpdEimBFRvFvZhAYmgwFVChAkM
        cxn2Vu6Pi7N3Syyy/rMRuXi+xO8Tq/roOHytuJdFyQoOvmpTtXS7S4oXZQKBgQDE0HxGr3KkI2gPL4L5uuJl99ws1INMV0Zu
        7GJx+TloHbnJ2sz3cFG3RqA72GSetyHuShD7hbjMXjHZcXeiGg3JSvdW0ScGTF2Zr7EH7ZMflpCmV5E0hvO1Z7FTtmcKEWco
        pwMwWuhlBq2q8KvOTzcJFR3PRloQf/tVySKSWlpiowKBgGpsFm6JxujfbteibdXflFEfiz0SBsKQ2QuBFsGdJm8c+tfuhQS9
        Lwjc8BjhZXyPQOoGr2jBv7fRqRjo1RkFrHJi84y2nInReGTy/fwQZOPRQS2GakGDAoNnJF2WpHZnY4Zp1yXWBNYpR1srlLbe
        /jARZBu7H+ai7eXVbcHn1NI1AoGAcgr4qCDLxg56Iqp+M2S2AS3xV8zAVAESX/37QV2PhSQMXsm5EPv1bcSv3l2SWGF3eNNU
        KdqfbVR7gCr+jmCYcnZNAfJpsX2YkxA5/YUNRjWBldGR4yT7nLb8Cqzb4fqZkvXLpD5ZAQkwoqeYdhByrIGe51c1ou/13AyT
        SsiuLQ8CgYA2q5QCAmJ3No0ic5zCPQHSRn/+pjiRJ8mwWBFBs7NXiaVhtvrYJ2vvofVxC3Rx5hJeyI9RRS4e/r+PC6xJMobi
        VcAsVrb41RvYkrC5Vl8LvaJu9DpcrInc8SsnyU95sxGRT3tWA72SxySfff5hPqnZhdqWaE4/OfBMcf0L1X7Ohg==
        """)

    static let wrappingPublicKey = base64(
        """
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu0vlFbbEAFVOZ+yuWlRZ4z4W0zvtHoFY5QRwM+R5tNJT5Ipz/wfn
        /76qiP72SPINoe9Xqg20boPsAmZUBmIx+sM1E1hCvy5muZv7ybob/VIr+QSUlR1V/Heyq0XZAt5uyzdhQApK8vcVbI1aVizU
        d70Pqkt3OJ+m8a90GMEL4+arJAuiE9HoI1koi0SXoAdd82cSofplg/L1rwvAbGP8kMEk8+ETPGS0Zhos0U5I64xZ6e1JNdUD
        bSsFWjXp7aM7LjU++uqhfRsRFBiziNHas1xnztT6VTsaU5/N5vSYVux3Aef/mmdFt1jo23TF2n9YpGyBjZeH0aT4yeKLsWOP
        TwIDAQAB
        """)

    static let rsaAESKeyWrapSHA256 = base64(
        """
        Z14q0Wp+eDFLBPtAtCSGrCvdkzALBuSWb3gmcxwbELuQbDamvfL31pr+6jg0UlpGuRW2SZM9IFyGTBK5z0gvLIL0dqOdUf9t
        5g1FYhV5hSWCvolxscEFvN8GmRrikRvLDwZ/xzM/aF4GOLX/CJHbNKu8X4+J/6SeXifOxZlm3AvRpOJgfWsxgKRhjAnt6gO2
        bxOXVZQQqHL6TfVYcndXDkpGBTcXWKru+Tbimestopsg/wiTBCFc1qNAcMkzud9tJStOoZa12jCXed6FuzRevxr7c7hiEJF/
        Hon+d7uxj3TM9fBqZE+PHYofi1e0ycDShs4HeMjlett80NKYtgcZSoqaviAg2rBjrbqJBA71QQU/yV+UZMdwd8BHIBUtR58Z
        KWsp5oNq0SI=
        """)

    static let oaepSHA1 = base64(
        """
        TZELoN9RPFPBrOzAcWSa+p4KWKbaXA+2Uv74I+RshHt1K33ZUzcA2p0B6kd4npmNf2CbrLGUfBj2uF+L56hWxSaHrjAUDy1f
        wqTPHb+UGU1tKXjfR8FH0Gj4evOUjPT7Qtq5PWkUAR7l0YW84W9L+Ok+V591gfQSQU2R7tW1GUv7jHKYKfLAZw1l2S0+EgzY
        CDNz3NohgRWywHtR/LMxFsrgthGo3aX9MkyQ1xYa6bgnc+rv2uECHYaFNirHjNuAexzaLqS8luWL8DVooD/t+sMUQkwvKKH9
        ltyoAXelamelhBjcCe0IiCYVTuTp3fsLc2+0JZ1oNT7ybcCHIMwVSw==
        """)

    static let pssSHA256Signature = base64(
        """
        BRt/DFYfoV9yCH7Pmqh8K+IVcE4XNg3mopJPjjbbH0SMFqjKnOSZvd7XmslHIGzf18/GGJ/+duMl/+4FE9kPqDRV0M/QsQGA
        08+jjGWARFp67a8czogwBQRGatBGJQ3AZFLhjQsRdju39A3QSIty+r6VxpuGsiJGWwYjxQN6omChdHsKZlIvlB8aOYebLU7c
        XdqdceUtzatQ+ogmGbtP5nkiG3jmT/H19rW7s4eZi4uRwlISKDLBih9s19QRlJ0+TXx13NWILQTiNvUaxTjkFI1FGaG4SXKl
        VQ4PFdkCL+ahz42OqoxrmIUxeJFDG/pKuS1rU4uFUnCiF4jAzuFuWw==
        """)

    static let pkcs1SHA384Signature = base64(
        """
        Fq1WsbeurNsP4nG/VtuH2cGxQ1MHARwiF/oEnkw0nQ4Gt0aFUm1zWjdyy7lj66fLZ1sSd+RYKZ172sJeGf0tnkDelctGfIll
        ckkHoL3PfUGPyOHE0JECSVuVqNz574368YkkiKRAsl5RNo53fMlh6jGGSZzGgIVJ2iIY977meMRtwDAJh8sChxATarx0Y7/F
        QdXtQ1kwDQwcvD5GgGP6Z2m+hID7fJRlOF4WYqL7X+QupIhtGtXsT2l4HtVzlhWdUrso5Wo7aH5n8wLUVipzbHRr8WgtnZlA
        tRUN1cc0a1G76A6Wy2Bl0YYWr7GTrXdPaWf36SIeNjKNlncPQHUFtQ==
        """)

    private static func base64(_ text: String) -> [UInt8] {
        Array(Data(base64Encoded: text.filter { !$0.isWhitespace })!)
    }
}

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)!
    }
}

/// Records an issue unless `body` throws a KMSError with `code`.
func expectKMSError<R>(_ code: KMSError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R)
{
    do {
        _ = try body()
        Issue.record("expected \(code.rawValue), but it succeeded", sourceLocation: sourceLocation)
    } catch let error as KMSError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code.rawValue), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Whether `bytes` is exactly a DER ECDSA-Sig-Value: SEQUENCE { INTEGER r, INTEGER s } with
/// minimal lengths and positive, minimally encoded integers.
func isDERECDSASignature(_ bytes: [UInt8]) -> Bool {
    var index = 0
    func length() -> Int? {
        guard index < bytes.count else { return nil }
        let first = Int(bytes[index])
        index += 1
        if first < 0x80 { return first }
        guard first == 0x81, index < bytes.count, bytes[index] >= 0x80 else { return nil }
        defer { index += 1 }
        return Int(bytes[index])
    }
    func integer() -> Bool {
        guard index < bytes.count, bytes[index] == 0x02 else { return false }
        index += 1
        guard let count = length(), count > 0, index + count <= bytes.count else { return false }
        let value = bytes[index..<index + count]
        index += count
        if value.first! & 0x80 != 0 { return false }
        if count > 1, value.first! == 0, value[value.startIndex + 1] & 0x80 == 0 { return false }
        return true
    }
    guard bytes.first == 0x30 else { return false }
    index = 1
    guard let total = length(), index + total == bytes.count else { return false }
    return integer() && integer() && index == bytes.count
}
