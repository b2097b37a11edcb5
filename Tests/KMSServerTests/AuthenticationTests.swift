import Foundation
import KMSClient
import KMSCrypto
import KMSProto
import KMSRPC
import KMSTestSupport
import NIOCore
import Synchronization
import Testing

/// The connection handshake against a real kmsd: every way in that must fail does, closes the
/// connection and serves nothing; the ways in that must work do.
@Suite struct AuthenticationTests {
    final class Recorder: Sendable {
        let answer = Mutex<RPCAuthenticate?>(nil)
    }

    static func address(_ stack: KMSStack) throws -> SocketAddress {
        let endpoint = stack.kmsd.endpoint
        let colon = endpoint.lastIndex(of: ":")!
        return try SocketAddress(
            ipAddress: String(endpoint[..<colon]), port: Int(endpoint[endpoint.index(after: colon)...])!)
    }

    /// Connects answering the challenge with `answer`; the error code of a refusal, or nil.
    static func handshake(_ stack: KMSStack, _ answer: @escaping RPCClientHandshake) async throws -> String? {
        do {
            let connection = try await RPCClientConnection.connect(to: try address(stack), handshake: answer)
            await connection.close()
            return nil
        } catch let error as RPCError {
            return error.code
        }
    }

    @Test func wrongKeysWrongSecretsReplaysAndSilenceAreRefused() async throws {
        let stack = try await KMSStack.start()
        let admin = stack.adminCredentials
        let good: RPCClientHandshake = {
            KMSCredentials(accessKeyID: admin.accessKeyID, secretAccessKey: admin.secretAccessKey).answer($0)
        }
        #expect(try await Self.handshake(stack, good) == nil)

        // An access key id nobody has.
        #expect(
            try await Self.handshake(stack) { challenge in
                KMSCredentials(accessKeyID: "AKIAUNKNOWNUNKNOWN12", secretAccessKey: admin.secretAccessKey).answer(
                    challenge)
            } == "UnrecognizedClientException")
        // Refused again (from memory now, without a query), until an admin imports a key under
        // that very id: then it works at once (the change clears what was remembered).
        #expect(
            try await Self.handshake(stack) { challenge in
                KMSCredentials(accessKeyID: "AKIAUNKNOWNUNKNOWN12", secretAccessKey: admin.secretAccessKey).answer(
                    challenge)
            } == "UnrecognizedClientException")
        var importKey = AdminCreateAccessKeyRequest()
        importKey.principalArn = "arn:aws:iam::111122223333:user/admin"
        importKey.accessKeyID = "AKIAUNKNOWNUNKNOWN12"
        importKey.secretAccessKey = "imported-secret-0123456789"
        _ = try await stack.client.call(AdminMethod.createAccessKey, importKey)
        var accepted: String? = "not tried"
        for _ in 0..<40 {
            accepted = try await Self.handshake(stack) { challenge in
                KMSCredentials(accessKeyID: "AKIAUNKNOWNUNKNOWN12", secretAccessKey: "imported-secret-0123456789")
                    .answer(challenge)
            }
            if accepted == nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(accepted == nil)
        // The right id with a wrong secret.
        #expect(
            try await Self.handshake(stack) { challenge in
                KMSCredentials(accessKeyID: admin.accessKeyID, secretAccessKey: "not-the-secret-at-all-000").answer(
                    challenge)
            } == "InvalidSignatureException")
        // A proof recorded on one connection, replayed on the next: its challenge differs.
        let recorder = Recorder()
        let first = try await RPCClientConnection.connect(to: try Self.address(stack)) { challenge in
            let answer = try good(challenge)
            recorder.answer.withLock { $0 = answer }
            return answer
        }
        await first.close()
        let recorded = try #require(recorder.answer.withLock { $0 })
        #expect(try await Self.handshake(stack) { _ in recorded } == "InvalidSignatureException")
        // No credentials at all.
        #expect(try await Self.handshake(stack) { _ in RPCAuthenticate() } == "MissingAuthenticationTokenException")

        // A request before the handshake: an error frame, the connection closed, nothing served.
        let raw = try await RPCClientConnection.connect(to: try Self.address(stack))
        var random = KMSGenerateRandomRequest()
        random.numberOfBytes = 8
        await #expect(throws: RPCError.self) { _ = try await raw.call(KMSMethod.generateRandom, random) }
        try await raw.channel.closeFuture.get()

        // The refusals hurt nobody else: the admin's client still works.
        _ = try await stack.client.call(KMSMethod.generateRandom, random)
        await stack.stop()
    }

    @Test func aDeactivatedKeyIsRefusedAtOnceAndTheCLIReadsProfiles() async throws {
        let stack = try await KMSStack.start()
        let (arn, client) = try await stack.principal(
            "app",
            policies: [
                "use":
                    #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:GenerateRandom","#
                    + #""Resource":"*"}]}"#
            ])
        var random = KMSGenerateRandomRequest()
        random.numberOfBytes = 4
        #expect(try await client.call(KMSMethod.generateRandom, random).plaintext.count == 4)
        let identity = try await client.callerIdentity()
        #expect(identity.arn == arn)
        #expect(!identity.admin)

        var list = AdminListAccessKeysRequest()
        list.principalArn = arn
        let keyID = try #require(
            try await stack.client.call(AdminMethod.listAccessKeys, list).accessKeys.first?.accessKeyID)
        var update = AdminUpdateAccessKeyRequest()
        update.accessKeyID = keyID
        update.status = "Inactive"
        _ = try await stack.client.call(AdminMethod.updateAccessKey, update)
        // The open connection stops working within the change notification's delay...
        var refused: String?
        for _ in 0..<50 {
            refused = await code { _ = try await client.call(KMSMethod.generateRandom, random) }
            if refused != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(refused == "UnrecognizedClientException")
        // ...and a new connection is refused at the handshake.
        let fresh = try stack.kmsd.client(
            credentials: KMSCredentials(accessKeyID: keyID, secretAccessKey: "unused-the-key-is-inactive")
        ) { $0.maxAttempts = 1 }
        #expect(
            await code { _ = try await fresh.call(KMSMethod.generateRandom, random) } == "UnrecognizedClientException")
        // A non-admin cannot use the admin service.
        let (_, other) = try await stack.principal("other")
        #expect(
            await code { _ = try await other.call(AdminMethod.listAccounts, AdminListAccountsRequest()) }
                == "AccessDeniedException")

        // The CLI finds credentials in a shared credentials file profile, as the aws CLI does.
        let file = stack.worker.directory.appendingPathComponent("credentials")
        try """
        [default]
        aws_access_key_id = AKIANOTVALIDNOTVALID
        aws_secret_access_key = nope-nope-nope-nope

        [ops]
        aws_access_key_id = \(stack.adminCredentials.accessKeyID)
        aws_secret_access_key = \(stack.adminCredentials.secretAccessKey)
        """.write(to: file, atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["KMS_ENDPOINT"] = stack.kmsd.endpoint
        env["AWS_SHARED_CREDENTIALS_FILE"] = file.path
        env.removeValue(forKey: "AWS_ACCESS_KEY_ID")
        env.removeValue(forKey: "AWS_SECRET_ACCESS_KEY")
        let who = try await CLITests.kms(
            ["admin", "get-caller-identity", "--profile", "ops", "--query", "Arn", "--output", "text"], env: env)
        #expect(who.status == 0, "\(who.stderr)")
        #expect(who.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "arn:aws:iam::111122223333:user/admin")
        let denied = try await CLITests.kms(["list-keys"], env: env)
        #expect(denied.status == 254)
        #expect(denied.stderr.contains("UnrecognizedClientException"))
        env["AWS_PROFILE"] = "missing"
        let missing = try await CLITests.kms(["list-keys"], env: env)
        #expect(missing.status == 255)
        #expect(missing.stderr.contains("could not be found"))
        await stack.stop()
    }

    @Test func insecureDevelopmentModeLetsAnonymousCallersInAsTheRoot() async throws {
        let stack = try await KMSStack.start(kmsdArguments: ["--insecure-dev-no-auth"])
        let anonymous = try stack.kmsd.client(credentials: nil)
        let identity = try await anonymous.callerIdentity()
        #expect(identity.arn == "arn:aws:iam::111122223333:root")
        _ = try await anonymous.createKey("dev")
        // Credentials, when given, are still checked.
        let wrong = try stack.kmsd.client(
            credentials: KMSCredentials(
                accessKeyID: stack.adminCredentials.accessKeyID, secretAccessKey: "wrong-wrong-wrong-wrong")
        ) {
            $0.maxAttempts = 1
        }
        #expect(await code { _ = try await wrong.callerIdentity() } == "InvalidSignatureException")
        await stack.stop()
    }
}
