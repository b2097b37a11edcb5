import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// Real AWS clients, unchanged, against kmsd's AWS JSON endpoint: the aws CLI, boto3 and the
/// AWS Encryption SDK for Python (suites in Tests/aws-clients; scripts/test installs what they
/// need from PyPI when missing).
@Suite struct AWSClientTests {
    static let suites = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("aws-clients")

    /// Runs one suite; its output is recorded when it fails.
    static func run(_ suite: String, _ environment: [String: String]) async throws -> (status: Int32, output: String) {
        let run = try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", Self.suites.appendingPathComponent(suite).path],
            environment: environment, mergeStandardError: true
        )
        return (run.status, run.stdoutText)
    }

    /// Starts a stack serving the AWS JSON API, runs `suites` against it in order (the admin's
    /// credentials; with `unprivileged`, also a principal without permissions), and stops it.
    static func runOnNewStack(_ suites: [String], unprivileged: Bool = false) async throws -> [(
        status: Int32, output: String
    )] {
        // An XKS proxy for the custom key stores' cases (KMS_XKS_*).
        let certificates = try await XKSWorld.certificates()
        defer { try? FileManager.default.removeItem(at: certificates) }
        let proxy = try await XKSWorld.proxy(in: certificates)
        // A SoftHSM2 token for the AWS_CLOUDHSM key store's cases (KMS_HSM_*).
        let softhsm = try await SoftHSMToken()
        // Two regions, for the multi-Region keys' cases.
        let stack = try await KMSStack.start(
            kmsdArguments: [
                "--aws-json-listen", "127.0.0.1:0", "--regions", "us-east-1,eu-west-1", "--xks-ca-file",
                certificates.appendingPathComponent("ca.pem").path,
            ],
            workerArguments: ["--regions", "us-east-1,eu-west-1", "--pkcs11-module", "softhsm=\(softhsm.modulePath)"],
            workerEnvironment: softhsm.environment)
        var environment = try await Self.environment(stack)
        environment["KMS_XKS_ENDPOINT"] = proxy.endpoint
        environment["KMS_XKS_ACCESS_KEY_ID"] = CustomKeyStoreTests.accessKeyID
        environment["KMS_XKS_SECRET"] = CustomKeyStoreTests.secret
        environment["KMS_HSM_CLUSTER_ID"] = "softhsm/\(softhsm.label)"
        environment["KMS_HSM_PIN"] = softhsm.pin
        if unprivileged { try await Self.addPrincipalWithoutPermissions(stack, to: &environment) }
        var results: [(status: Int32, output: String)] = []
        for suite in suites { results.append(try await Self.run(suite, environment)) }
        await stack.stop()
        await proxy.stop()
        return results
    }

    /// A principal without any permission, for the access-denied cases: its access key as
    /// KMS_OTHER_ACCESS_KEY_ID / KMS_OTHER_SECRET_ACCESS_KEY, its ARN as KMS_OTHER_PRINCIPAL_ARN.
    static func addPrincipalWithoutPermissions(_ stack: KMSStack, to environment: inout [String: String])
        async throws
    {
        var create = AdminCreatePrincipalRequest()
        create.accountID = "111122223333"
        create.type = "user"
        create.name = "nobody"
        let nobody = try await stack.client.call(AdminMethod.createPrincipal, create).principal.arn
        var key = AdminCreateAccessKeyRequest()
        key.principalArn = nobody
        let other = try await stack.client.call(AdminMethod.createAccessKey, key)
        environment["KMS_OTHER_ACCESS_KEY_ID"] = other.accessKey.accessKeyID
        environment["KMS_OTHER_SECRET_ACCESS_KEY"] = other.secretAccessKey
        environment["KMS_OTHER_PRINCIPAL_ARN"] = nobody
    }

    static func environment(_ stack: KMSStack) async throws -> [String: String] {
        let endpoint = try #require(stack.kmsd.awsJSONEndpoint)
        var environment = ProcessInfo.processInfo.environment
        for name in [
            "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_CA_BUNDLE",
        ] {
            environment.removeValue(forKey: name)
        }
        environment["AWS_CONFIG_FILE"] = "/dev/null"
        environment["KMS_AWS_ENDPOINT"] = "http://\(endpoint)"
        environment["AWS_ACCESS_KEY_ID"] = stack.adminCredentials.accessKeyID
        environment["AWS_SECRET_ACCESS_KEY"] = stack.adminCredentials.secretAccessKey
        return environment
    }

    @Test func boto3AndTheAWSCLI() async throws {
        let results = try await Self.runOnNewStack(["boto3_suite.py", "awscli_suite.py"], unprivileged: true)
        let (boto3, cli) = (results[0], results[1])
        #expect(boto3.status == 0, "\(boto3.output)")
        #expect(cli.status == 0, "\(cli.output)")
    }

    /// Asymmetric and HMAC keys, data key pairs, ECDH and imported material, cross-checked with
    /// Python's cryptography package.
    @Test func asymmetricKeysAgainstAnIndependentImplementation() async throws {
        let suite = try await Self.runOnNewStack(["asymmetric_suite.py"])[0]
        #expect(suite.status == 0, "\(suite.output)")
    }

    @Test func theAWSEncryptionSDKWithItsDataKeyCache() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        var environment = try await Self.environment(stack)
        environment["KMS_KEY_ARN"] = try await stack.client.createKey("encryption sdk").arn
        let sdk = try await Self.run("encryption_sdk_suite.py", environment)
        #expect(sdk.status == 0, "\(sdk.output)")
        await stack.stop()
    }

    @Test func brokenHostileAndSlowHTTPRequests() async throws {
        let edges = try await Self.runOnNewStack(["http_edge_suite.py"])[0]
        #expect(edges.status == 0, "\(edges.output)")
    }

    /// A fixed pair imported, deleted and imported again with another secret: the old secret
    /// stops working at once, though its signing key was cached.
    @Test func aReimportedAccessKeyLosesItsOldSecret() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        let environment = try await Self.environment(stack)
        let (arn, _) = try await stack.principal(
            "fixture",
            policies: [
                "list":
                    #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#
            ])
        func importKey(_ secret: String) async throws {
            var request = AdminCreateAccessKeyRequest()
            request.principalArn = arn
            request.accessKeyID = "AKIAFIXTUREFIXTURE01"
            request.secretAccessKey = secret
            _ = try await stack.client.call(AdminMethod.createAccessKey, request)
        }
        func listKeys(_ secret: String) async throws -> String {
            let run = try await runChildProcess(
                URL(fileURLWithPath: "/usr/bin/env"),
                [
                    "python3", "-c",
                    """
                    import boto3, botocore, os
                    kms = boto3.client("kms", endpoint_url=os.environ["KMS_AWS_ENDPOINT"], region_name="us-east-1",
                                       aws_access_key_id="AKIAFIXTUREFIXTURE01", aws_secret_access_key="\(secret)")
                    try:
                        kms.list_keys(); print("ok")
                    except botocore.exceptions.ClientError as e:
                        print(e.response["Error"]["Code"])
                    """,
                ], environment: environment)
            return run.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try await importKey("first-secret-first-secret")
        #expect(try await listKeys("first-secret-first-secret") == "ok")
        var delete = AdminDeleteAccessKeyRequest()
        delete.accessKeyID = "AKIAFIXTUREFIXTURE01"
        _ = try await stack.client.call(AdminMethod.deleteAccessKey, delete)
        try await importKey("second-secret-second-secret")
        var old = ""
        for _ in 0..<50 {
            old = try await listKeys("first-secret-first-secret")
            if old != "ok" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(old == "InvalidSignatureException")
        #expect(try await listKeys("second-secret-second-secret") == "ok")
        await stack.stop()
    }
}
