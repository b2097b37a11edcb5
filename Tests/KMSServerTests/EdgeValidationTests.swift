import Foundation
import KMSDomain
import KMSProto
import Testing

@testable import KMSServer

/// The sizes every request is held to are checked at the edge and nowhere else (the handlers no
/// longer check them again), so each request type's conformance is what stands between an
/// oversized field and the key lookup, the authorization and the audit log. Pure: no process.
@Suite struct EdgeValidationTests {
    static let keyID = "1234abcd-12ab-34cd-56ef-1234567890ab"
    static let elevenTokens = Array(repeating: "token", count: 11)

    func refusal(_ request: any EdgeChecked) -> KMSError? {
        do {
            try request.checkAtEdge()
            return nil
        } catch {
            return error
        }
    }

    @Test func everyRequestThatTakesGrantTokensRefusesMoreThanTen() {
        let requests: [any EdgeChecked] = [
            KMSEncryptRequest.with {
                $0.keyID = Self.keyID
                $0.plaintext = Data([1])
                $0.grantTokens = Self.elevenTokens
            },
            KMSDecryptRequest.with {
                $0.ciphertextBlob = Data([1])
                $0.grantTokens = Self.elevenTokens
            },
            KMSReEncryptRequest.with {
                $0.ciphertextBlob = Data([1])
                $0.destinationKeyID = Self.keyID
                $0.grantTokens = Self.elevenTokens
            },
            KMSGenerateDataKeyRequest.with {
                $0.keyID = Self.keyID
                $0.grantTokens = Self.elevenTokens
            },
            KMSGenerateDataKeyWithoutPlaintextRequest.with {
                $0.keyID = Self.keyID
                $0.grantTokens = Self.elevenTokens
            },
            KMSGenerateDataKeyPairRequest.with {
                $0.keyID = Self.keyID
                $0.grantTokens = Self.elevenTokens
            },
            KMSGenerateDataKeyPairWithoutPlaintextRequest.with {
                $0.keyID = Self.keyID
                $0.grantTokens = Self.elevenTokens
            },
            KMSSignRequest.with {
                $0.keyID = Self.keyID
                $0.message = Data([1])
                $0.grantTokens = Self.elevenTokens
            },
            KMSVerifyRequest.with {
                $0.keyID = Self.keyID
                $0.message = Data([1])
                $0.signature = Data([1])
                $0.grantTokens = Self.elevenTokens
            },
            KMSGenerateMacRequest.with {
                $0.keyID = Self.keyID
                $0.message = Data([1])
                $0.grantTokens = Self.elevenTokens
            },
            KMSVerifyMacRequest.with {
                $0.keyID = Self.keyID
                $0.message = Data([1])
                $0.mac = Data([1])
                $0.grantTokens = Self.elevenTokens
            },
            KMSDescribeKeyRequest.with {
                $0.keyID = Self.keyID
                $0.grantTokens = Self.elevenTokens
            },
            KMSGetPublicKeyRequest.with {
                $0.keyID = Self.keyID
                $0.grantTokens = Self.elevenTokens
            },
            KMSDeriveSharedSecretRequest.with {
                $0.keyID = Self.keyID
                $0.publicKey = Data([1])
                $0.grantTokens = Self.elevenTokens
            },
        ]
        for request in requests {
            let error = self.refusal(request)
            #expect(
                error?.code == .validation && error?.message.contains("'grantTokens'") == true,
                "\(type(of: request)): \(String(describing: error))")
        }
    }

    /// A grant token this service did not issue is InvalidGrantTokenException (issue 20, 1.8),
    /// DescribeKey's included.
    @Test func foreignGrantTokensAreRefused() {
        let requests: [any EdgeChecked] = [
            KMSEncryptRequest.with {
                $0.keyID = Self.keyID
                $0.plaintext = Data([1])
                $0.grantTokens = ["token"]
            },
            KMSDescribeKeyRequest.with {
                $0.keyID = Self.keyID
                $0.grantTokens = [GrantToken.make(grantID: "grant"), "kmsgt1.not base64"]
            },
        ]
        for request in requests {
            #expect(self.refusal(request)?.code == .invalidGrantToken, "\(type(of: request))")
        }
    }

    @Test func oversizedBlobsAreRefusedNamingTheirField() {
        let cases: [(any EdgeChecked, String)] = [
            (
                KMSEncryptRequest.with {
                    $0.keyID = Self.keyID
                    $0.plaintext = Data(count: 4097)
                }, "plaintext"
            ),
            (KMSDecryptRequest.with { $0.ciphertextBlob = Data(count: 6145) }, "ciphertextBlob"),
            (
                KMSReEncryptRequest.with {
                    $0.ciphertextBlob = Data(count: 6145)
                    $0.destinationKeyID = Self.keyID
                }, "ciphertextBlob"
            ),
            (
                KMSSignRequest.with {
                    $0.keyID = Self.keyID
                    $0.message = Data(count: 4097)
                }, "message"
            ),
            (
                KMSVerifyRequest.with {
                    $0.keyID = Self.keyID
                    $0.message = Data([1])
                    $0.signature = Data(count: 6145)
                }, "signature"
            ),
            (
                KMSGenerateMacRequest.with {
                    $0.keyID = Self.keyID
                    $0.message = Data(count: 4097)
                }, "message"
            ),
            (
                KMSVerifyMacRequest.with {
                    $0.keyID = Self.keyID
                    $0.message = Data([1])
                    $0.mac = Data(count: 6145)
                }, "mac"
            ),
            (
                KMSDeriveSharedSecretRequest.with {
                    $0.keyID = Self.keyID
                    $0.publicKey = Data(count: 8193)
                }, "publicKey"
            ),
        ]
        for (request, field) in cases {
            let error = self.refusal(request)
            #expect(
                error?.code == .validation && error?.message.contains(field) == true,
                "\(type(of: request)): \(String(describing: error))")
        }
    }

    @Test func everyEncryptionContextIsCheckedForSizeAndEmptyKeysNamingItsField() {
        let oversized = ["k": String(repeating: "x", count: Limits.encryptionContextBytes)]
        let withinLimit = ["k": String(repeating: "x", count: Limits.encryptionContextBytes - 1)]
        let emptyKey = ["": "v"]
        let requests: [(String, ([String: String]) -> any EdgeChecked)] = [
            (
                "encryptionContext",
                { context in
                    KMSEncryptRequest.with {
                        $0.keyID = Self.keyID
                        $0.plaintext = Data([1])
                        $0.encryptionContext = context
                    }
                }
            ),
            (
                "encryptionContext",
                { context in
                    KMSDecryptRequest.with {
                        $0.ciphertextBlob = Data([1])
                        $0.encryptionContext = context
                    }
                }
            ),
            (
                "sourceEncryptionContext",
                { context in
                    KMSReEncryptRequest.with {
                        $0.ciphertextBlob = Data([1])
                        $0.destinationKeyID = Self.keyID
                        $0.sourceEncryptionContext = context
                    }
                }
            ),
            (
                "destinationEncryptionContext",
                { context in
                    KMSReEncryptRequest.with {
                        $0.ciphertextBlob = Data([1])
                        $0.destinationKeyID = Self.keyID
                        $0.destinationEncryptionContext = context
                    }
                }
            ),
            (
                "encryptionContext",
                { context in
                    KMSGenerateDataKeyRequest.with {
                        $0.keyID = Self.keyID
                        $0.encryptionContext = context
                    }
                }
            ),
            (
                "encryptionContext",
                { context in
                    KMSGenerateDataKeyWithoutPlaintextRequest.with {
                        $0.keyID = Self.keyID
                        $0.encryptionContext = context
                    }
                }
            ),
            (
                "encryptionContext",
                { context in
                    KMSGenerateDataKeyPairRequest.with {
                        $0.keyID = Self.keyID
                        $0.encryptionContext = context
                    }
                }
            ),
            (
                "encryptionContext",
                { context in
                    KMSGenerateDataKeyPairWithoutPlaintextRequest.with {
                        $0.keyID = Self.keyID
                        $0.encryptionContext = context
                    }
                }
            ),
            (
                "constraints.encryptionContextSubset",
                { context in
                    KMSCreateGrantRequest.with {
                        $0.keyID = Self.keyID
                        $0.constraints.encryptionContextSubset = context
                    }
                }
            ),
        ]
        for (field, request) in requests {
            for bad in [oversized, emptyKey] {
                let error = self.refusal(request(bad))
                #expect(
                    error?.code == .validation && error?.message.contains("'\(field)'") == true,
                    "\(field): \(String(describing: error))")
            }
            #expect(self.refusal(request(withinLimit)) == nil, "\(field)")
        }
    }

    @Test func requestsWithinTheLimitsPass() {
        // Tokens of this service's form: one it did not issue is InvalidGrantTokenException.
        let tenTokens = Array(repeating: GrantToken.make(grantID: "grant"), count: 10)
        let requests: [any EdgeChecked] = [
            KMSEncryptRequest.with {
                $0.keyID = Self.keyID
                $0.plaintext = Data(count: 4096)
                $0.grantTokens = tenTokens
            },
            KMSDecryptRequest.with {
                $0.ciphertextBlob = Data(count: 6144)
                $0.grantTokens = tenTokens
            },
            KMSVerifyRequest.with {
                $0.keyID = Self.keyID
                $0.message = Data(count: 4096)
                $0.signature = Data(count: 6144)
            },
            KMSVerifyMacRequest.with {
                $0.keyID = Self.keyID
                $0.message = Data(count: 4096)
                $0.mac = Data(count: 6144)
            },
            KMSDeriveSharedSecretRequest.with {
                $0.keyID = Self.keyID
                $0.publicKey = Data(count: 8192)
            },
        ]
        for request in requests {
            #expect(self.refusal(request) == nil, "\(type(of: request))")
        }
    }
}
