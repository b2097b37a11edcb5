import Foundation
import KMSProto
import KMSTestSupport
import Testing

/// kms prints what the aws CLI prints: the same JSON (four spaces, `"Key": value`, `[]`,
/// non-ASCII as it is, members in botocore's model order) and, for the paginated operations,
/// every page merged.
extension CLITests {
    /// Runs `aws kms` against the stack's AWS JSON endpoint, as the stack's administrator.
    static func aws(_ arguments: [String], stack: KMSStack) async throws -> Result {
        var env = stack.environment
        env["AWS_ENDPOINT_URL_KMS"] = "http://\(try #require(stack.kmsd.awsJSONEndpoint))"
        env["AWS_DEFAULT_REGION"] = "us-east-1"
        env["AWS_CONFIG_FILE"] = "/dev/null"
        env["AWS_ACCESS_KEY_ID"] = stack.adminCredentials.accessKeyID
        env["AWS_SECRET_ACCESS_KEY"] = stack.adminCredentials.secretAccessKey
        let run = try await runChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["aws", "kms"] + arguments, environment: env)
        return Result(status: run.status, stdout: run.stdoutText, stderr: run.stderrText)
    }

    /// Both print the same output, exit status and, on a paging error, message.
    static func expectSameOutput(_ arguments: [String], stack: KMSStack) async throws {
        let ours = try await Self.kms(arguments, env: stack.environment)
        let theirs = try await Self.aws(arguments, stack: stack)
        let command = arguments.joined(separator: " ")
        #expect(ours.status == theirs.status, "\(command): \(ours.stderr) / aws CLI: \(theirs.stderr)")
        #expect(ours.stdout == theirs.stdout, "\(command)\nkms:\n\(ours.stdout)\naws CLI:\n\(theirs.stdout)")
        if theirs.status == 255 { #expect(ours.stderr == theirs.stderr, "\(command)") }
    }

    @Test func jsonIsPrintedAsTheAWSCLIPrintsIt() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--aws-json-listen", "127.0.0.1:0"])
        let env = stack.environment
        let created = try await Self.kms(
            [
                "create-key", "--description", "é \"quoted\" / \\ tab\t del\u{7F} \u{85}", "--tags", "team=payments",
                "env=prod",
                "owner=ops", "--query", "KeyMetadata.KeyId", "--output", "text",
            ],
            env: env)
        #expect(created.status == 0, "\(created.stderr)")
        let key = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try await Self.kms(
            ["create-key", "--key-spec", "HMAC_256", "--key-usage", "GENERATE_VERIFY_MAC"], env: env)
        for index in 1...3 {
            let alias = try await Self.kms(
                ["create-alias", "--alias-name", "alias/page-\(index)", "--target-key-id", key], env: env)
            #expect(alias.status == 0, "\(alias.stderr)")
        }
        let grant = try await Self.kms(
            [
                "create-grant", "--key-id", key, "--grantee-principal", "arn:aws:iam::111122223333:user/app",
                "--operations", "Encrypt", "Decrypt", "--encryption-context-subset", "app=cli,tier=1", "--name", "g",
            ], env: env)
        #expect(grant.status == 0, "\(grant.stderr)")
        #expect(try await Self.kms(["rotate-key-on-demand", "--key-id", key], env: env).status == 0)

        try await Self.expectSameOutput(["describe-key", "--key-id", key], stack: stack)
        try await Self.expectSameOutput(["get-key-rotation-status", "--key-id", key], stack: stack)
        // More than one page, followed and merged; and one page, when the caller names it.
        for page in [
            ["list-aliases", "--page-size", "2"], ["list-aliases", "--key-id", key, "--page-size", "1"],
            ["list-aliases", "--limit", "2"], ["list-aliases", "--key-id", key, "--no-paginate"],
            ["list-keys", "--page-size", "1"], ["list-keys", "--limit", "1"], ["list-keys"],
            ["list-resource-tags", "--key-id", key, "--page-size", "2"], ["list-grants", "--key-id", key],
            ["list-key-rotations", "--key-id", key], ["list-key-policies", "--key-id", key, "--page-size", "1"],
            ["list-aliases", "--page-size", "2", "--query", "Aliases[2].AliasName"],
            // At most --max-items, cut inside a page or at its end, then a NextToken.
            ["list-aliases", "--max-items", "3", "--page-size", "2"], ["list-aliases", "--max-items", "4"],
            ["list-keys", "--page-size", "1", "--max-items", "1", "--output", "text", "--query", "Keys[0].KeyId"],
            // The aws CLI refuses its paging options when it does not follow the pages.
            ["list-aliases", "--no-paginate", "--page-size", "2"], ["list-keys", "--limit", "1", "--page-size", "1"],
            ["list-keys", "--marker", "x", "--max-items", "1", "--starting-token", "y"],
        ] {
            try await Self.expectSameOutput(page, stack: stack)
        }
        // A NextToken takes the listing on from where it stopped, inside a page or at its end.
        for first in [["--max-items", "3", "--page-size", "2"], ["--max-items", "2", "--page-size", "2"]] {
            let cut = try Self.json(try await Self.kms(["list-aliases"] + first, env: env))
            let token = try #require(cut["NextToken"] as? String)
            try await Self.expectSameOutput(
                ["list-aliases", "--starting-token", token, "--max-items", "3", "--page-size", "2"], stack: stack)
            try await Self.expectSameOutput(["list-aliases", "--starting-token", token], stack: stack)
        }
        await stack.stop()
    }

    /// The aws CLI prints a response's members in botocore's model order, nested structures'
    /// too; kms prints them in the proto's (AWSJSON.members(of:), generated), which must be the
    /// same (Tests/aws-clients/model_order.py reads botocore's).
    @Test func membersAreInBotocoresModelOrder() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("aws-clients/model_order.py").path
        let run = try await runChildProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script])
        #expect(run.status == 0, "\(run.stderrText)")
        let model = try #require(try JSONSerialization.jsonObject(with: Data(run.stdoutText.utf8)) as? [String: Any])
        let operations = try #require(model["operations"] as? [String: Any])
        let shapes = try #require(model["shapes"] as? [String: [[Any]]])
        // Each of our responses with botocore's output shape, then their nested messages alike.
        var pairs: [(ours: String, theirs: String?)] = KMSMethod.allNames.filter { operations[$0] != nil }.map {
            ("\($0)Response", operations[$0] as? String)
        }
        var checked: Set<String> = []
        while let (ours, theirs) = pairs.popLast() {
            guard checked.insert(ours).inserted else { continue }
            let members = AWSJSON.members(of: ours) ?? []
            let model = theirs.map { shapes[$0] ?? [] } ?? []
            #expect(
                members.map(\.name) == model.map { $0[0] as? String ?? "" },
                "\(ours), botocore's \(theirs ?? "no output")")
            for member in members {
                guard let nested = member.message, let match = model.first(where: { $0[0] as? String == member.name })
                else { continue }
                pairs.append((nested, match[1] as? String))
            }
        }
        let nested = ["KeyMetadata", "KeyListEntry", "AliasListEntry", "GrantListEntry", "GrantConstraints", "Tag"]
        #expect(Set(nested).isSubset(of: checked), "\(checked.sorted())")
        #expect(checked.contains("RotationsListEntry") && checked.contains("MultiRegionConfiguration"))
    }
}
