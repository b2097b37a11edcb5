import Foundation
import KMSClient
import Testing

/// Credentials are found where the aws CLI finds them, in the same order.
@Suite struct KMSCredentialsTests {
    static func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("credentials-\(UUID().uuidString)")
            .path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let text = """
        # comment
        [default]
        aws_access_key_id = AKIADEFAULTDEFAULT12
        aws_secret_access_key = default-secret-default

        [ ops ]
        ; another comment
        AWS_ACCESS_KEY_ID=AKIAOPSOPSOPSOPSOPS1
        aws_secret_access_key=ops/secret+with=signs
        """

    @Test func environmentThenProfileThenDefault() throws {
        let path = try Self.file(Self.text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let base = ["AWS_SHARED_CREDENTIALS_FILE": path, "HOME": "/nonexistent"]
        #expect(try KMSCredentials.resolve(environment: base)?.accessKeyID == "AKIADEFAULTDEFAULT12")
        var withProfile = base
        withProfile["AWS_PROFILE"] = "ops"
        #expect(
            try KMSCredentials.resolve(environment: withProfile)
                == KMSCredentials(accessKeyID: "AKIAOPSOPSOPSOPSOPS1", secretAccessKey: "ops/secret+with=signs"))
        var withKeys = withProfile
        withKeys["AWS_ACCESS_KEY_ID"] = "AKIAENVENVENVENVENV1"
        withKeys["AWS_SECRET_ACCESS_KEY"] = "env-secret-env-secret"
        #expect(try KMSCredentials.resolve(environment: withKeys)?.accessKeyID == "AKIAENVENVENVENVENV1")
        // An explicit --profile beats the environment's keys, as in the aws CLI.
        #expect(
            try KMSCredentials.resolve(profile: "ops", environment: withKeys)?.accessKeyID == "AKIAOPSOPSOPSOPSOPS1")
        #expect(throws: KMSClientError.self) { try KMSCredentials.resolve(profile: "missing", environment: base) }
        #expect(try KMSCredentials.resolve(environment: ["HOME": "/nonexistent"]) == nil)
    }

    @Test func endpointsSayWhetherTheyAreTLS() throws {
        let plain = try KMSClientEnvironment(endpoint: "tcp://127.0.0.1:7400").resolve(environment: [:])
        #expect(plain.endpoint == "127.0.0.1:7400" && plain.configuration.tls == nil)
        let tls = try KMSClientEnvironment(endpoint: "tls://kms.internal:7400").resolve(environment: [
            "AWS_CA_BUNDLE": "/etc/ca.pem"
        ])
        #expect(tls.endpoint == "kms.internal:7400" && tls.configuration.tls?.caBundlePath == "/etc/ca.pem")
        #expect(throws: KMSClientError.self) {
            try KMSClientEnvironment(endpoint: "https://x:1").resolve(environment: [:])
        }
        #expect(throws: KMSClientError.self) {
            try KMSClientEnvironment(endpoint: "x:1", clientCertificate: "c.pem", clientKey: "k.pem").resolve(
                environment: [:])
        }
    }
}
