import Foundation
import KMSClient
import KMSProto
import KMSRPC
import KMSTestSupport
import NIOCore

/// A caller that speaks both protocols with the same credentials.
struct MatrixParty: Sendable {
    let arn: String
    /// nil: the binary side connects answering the challenge with no credentials at all.
    let binary: KMSClient?
    let json: AWSJSONTestClient
    let endpoint: String

    /// Sends `request` through `transport`; never throws: a failure is its code.
    func call(_ request: MatrixRequest, via transport: MatrixProtocol) async -> MatrixOutcome {
        do {
            switch transport {
            case .binary:
                if let binary = self.binary {
                    return MatrixOutcome(code: Matrix.ok, body: try await request.binary(binary))
                }
                // What a client without credentials can do: answer the challenge with nothing.
                let connection = try await RPCClientConnection.connect(to: try Self.address(self.endpoint)) { _ in
                    RPCAuthenticate()
                }
                defer { Task { await connection.close() } }
                return MatrixOutcome(code: Matrix.ok, body: try await request.raw(connection))
            case .awsJSON:
                let reply = try await self.json.call(request.operation, body: request.json)
                guard let code = reply.code else { return MatrixOutcome(code: Matrix.ok, body: reply.body) }
                return MatrixOutcome(code: code, message: reply.message)
            }
        } catch let error as KMSClientError {
            return MatrixOutcome(code: error.code, message: error.message)
        } catch let error as RPCError {
            return MatrixOutcome(code: error.code, message: error.message)
        } catch {
            return MatrixOutcome(code: "\(type(of: error))", message: "\(error)")
        }
    }

    static func address(_ endpoint: String) throws -> SocketAddress {
        let colon = endpoint.lastIndex(of: ":")!
        return try SocketAddress(
            ipAddress: String(endpoint[..<colon]), port: Int(endpoint[endpoint.index(after: colon)...])!)
    }
}

/// The one kmsd stack (PostgreSQL database, kms-cryptod, kmsd serving both protocols and two
/// regions) of AuthorizationMatrixTests, and the principals of the matrix, made once.
///
/// Account A (111122223333) holds every key. Its principals: the root; the bootstrap admin
/// (identity policy kms:*); m-keypolicy, named by every matrix key's policy and nothing else;
/// m-identity, with an identity policy allowing kms:* (the key policy's root statement
/// delegates to it); m-grantee and m-othergrantee, which hold only grants; m-denied, named by
/// the key policy but whose identity policy denies kms:*; m-nobody. Account B (444455556666):
/// m-partner, named by the key policy and allowed kms:* by its identity policy; m-stranger,
/// allowed kms:* by its identity policy and named nowhere.
final class MatrixWorld: Sendable {
    @TaskLocal static var current: MatrixWorld?

    static let keyPolicyUserName = "m-keypolicy"
    static let grantTargetARN = "arn:aws:iam::\(Matrix.accountA):role/m-target"
    static let allowEverything =
        #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#
    static let denyEverything =
        #"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:*","Resource":"*"}]}"#
    /// Every matrix key's policy: the account's root (delegation to identity policies), and
    /// three principals by name.
    static let keyPolicy = """
        {"Version":"2012-10-17","Statement":[
          {"Sid":"Account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::\(Matrix.accountA):root"},\
        "Action":"kms:*","Resource":"*"},
          {"Sid":"Named","Effect":"Allow","Principal":{"AWS":[
            "\(Matrix.user(Matrix.accountA, keyPolicyUserName))",
            "\(Matrix.user(Matrix.accountA, "m-denied"))",
            "\(Matrix.user(Matrix.accountB, "m-partner"))"]},"Action":"kms:*","Resource":"*"}
        ]}
        """

    let stack: KMSStack
    let awsEndpoint: String
    let parties: [MatrixActor: MatrixParty]
    /// The admin, signing its AWS JSON requests for eu-west-1 (served, but not the key's region).
    let adminInOtherRegion: MatrixParty
    /// Held around every request that makes an RSA key (see MatrixRow.makesRSAKey).
    let rsaGate = MatrixGate()
    /// nil when a request signed for eu-west-1 authenticates; else why not. kms-cryptod may be
    /// limited to deriving signing keys for its own `--regions`, which the test stack cannot
    /// always pass: the cells with a caller in eu-west-1 then do not run (a warning says so).
    let otherRegionRefusal: String?

    var admin: KMSClient { self.stack.client }

    private init(
        stack: KMSStack, awsEndpoint: String, parties: [MatrixActor: MatrixParty], adminInOtherRegion: MatrixParty,
        otherRegionRefusal: String?
    ) {
        self.stack = stack
        self.awsEndpoint = awsEndpoint
        self.parties = parties
        self.adminInOtherRegion = adminInOtherRegion
        self.otherRegionRefusal = otherRegionRefusal
    }

    static func start() async throws -> MatrixWorld {
        // kms-cryptod derives SigV4 signing keys only for its own --regions: both, or no request
        // signed for the other region would authenticate and the cross-region cells would not run.
        let regions = "\(Matrix.region),\(Matrix.otherRegion)"
        let stack = try await KMSStack.start(
            kmsdArguments: [
                "--aws-json-listen", "127.0.0.1:0", "--regions", regions,
                // Thousands of refusals are the point here; a warning line for each is noise.
                "--log-level", "error",
            ],
            workerArguments: ["--regions", regions])
        do {
            return try await Self.populate(stack)
        } catch {
            await stack.stop()
            throw error
        }
    }

    private static func populate(_ stack: KMSStack) async throws -> MatrixWorld {
        let awsEndpoint = try requireValue(stack.kmsd.awsJSONEndpoint, "kmsd serves no AWS JSON endpoint")
        var account = AdminCreateAccountRequest()
        account.accountID = Matrix.accountB
        account.name = "matrix B"
        _ = try await stack.client.call(AdminMethod.createAccount, account)
        var target = AdminCreatePrincipalRequest()
        target.accountID = Matrix.accountA
        target.type = "role"
        target.name = "m-target"
        _ = try await stack.client.call(AdminMethod.createPrincipal, target)

        func make(_ name: String, _ account: String = Matrix.accountA, _ policy: String? = nil) async throws
            -> MatrixParty
        {
            try await Self.party(
                stack, awsEndpoint: awsEndpoint, name: name, account: account,
                policies: policy.map { ["matrix": $0] } ?? [:])
        }
        var parties: [MatrixActor: MatrixParty] = [:]
        parties[.admin] = Self.party(
            stack, awsEndpoint: awsEndpoint, arn: Matrix.user(Matrix.accountA, "admin"),
            credentials: stack.adminCredentials)
        parties[.root] = Self.party(
            stack, awsEndpoint: awsEndpoint, arn: "arn:aws:iam::\(Matrix.accountA):root",
            credentials: try await Self.accessKey(stack, for: "arn:aws:iam::\(Matrix.accountA):root")
        )
        parties[.keyPolicyUser] = try await make(Self.keyPolicyUserName)
        parties[.identityPolicyUser] = try await make("m-identity", Matrix.accountA, Self.allowEverything)
        parties[.grantee] = try await make("m-grantee")
        parties[.otherGrantee] = try await make("m-othergrantee")
        parties[.denied] = try await make("m-denied", Matrix.accountA, Self.denyEverything)
        parties[.nobody] = try await make("m-nobody")
        parties[.stranger] = try await make("m-stranger", Matrix.accountB, Self.allowEverything)
        parties[.partner] = try await make("m-partner", Matrix.accountB, Self.allowEverything)

        let admin = stack.adminCredentials
        parties[.noCredentials] = MatrixParty(
            arn: "(none)", binary: nil, json: AWSJSONTestClient(endpoint: awsEndpoint, credentials: nil),
            endpoint: stack.kmsd.endpoint
        )
        parties[.badSecret] = Self.party(
            stack, awsEndpoint: awsEndpoint, arn: "(wrong secret)",
            credentials: KMSCredentials(
                accessKeyID: admin.accessKeyID, secretAccessKey: "not-the-secret-not-the-secret-0000")
        )
        parties[.unknownAccessKey] = Self.party(
            stack, awsEndpoint: awsEndpoint, arn: "(unknown key)",
            credentials: KMSCredentials(
                accessKeyID: "AKIAMATRIXUNKNOWN0000", secretAccessKey: "some-secret-some-secret-0000")
        )
        // A principal allowed everything whose only access key is deactivated.
        let inactive = try await make("m-inactive", Matrix.accountA, Self.allowEverything)
        var list = AdminListAccessKeysRequest()
        list.principalArn = inactive.arn
        var update = AdminUpdateAccessKeyRequest()
        update.accessKeyID = try requireValue(
            try await stack.client.call(AdminMethod.listAccessKeys, list).accessKeys.first?.accessKeyID, "no access key"
        )
        update.status = "Inactive"
        _ = try await stack.client.call(AdminMethod.updateAccessKey, update)
        parties[.inactiveAccessKey] = inactive

        let adminParty = parties[.admin]!
        let adminInOtherRegion = MatrixParty(
            arn: adminParty.arn, binary: adminParty.binary, json: adminParty.json.with(region: Matrix.otherRegion),
            endpoint: adminParty.endpoint
        )
        var listKeys = KMSListKeysRequest()
        listKeys.limit = 1
        let probe = await adminInOtherRegion.call(MatrixRequest(KMSMethod.listKeys, listKeys), via: .awsJSON)
        return MatrixWorld(
            stack: stack, awsEndpoint: awsEndpoint, parties: parties, adminInOtherRegion: adminInOtherRegion,
            otherRegionRefusal: probe.succeeded ? nil : "\(probe.code): \(probe.message)"
        )
    }

    func stop() async {
        for party in self.parties.values where party.binary !== self.stack.client {
            await party.binary?.close()
        }
        await self.stack.stop()
    }

    func party(_ actor: MatrixActor) -> MatrixParty { self.parties[actor]! }

    /// A new principal of `account` with `policies` and an access key, for the focused tests.
    func party(_ name: String, account: String = Matrix.accountA, policies: [String: String] = [:]) async throws
        -> MatrixParty
    {
        try await Self.party(
            self.stack, awsEndpoint: self.awsEndpoint, name: name, account: account, policies: policies)
    }

    private static func party(
        _ stack: KMSStack, awsEndpoint: String, name: String, account: String, policies: [String: String]
    ) async throws -> MatrixParty {
        var create = AdminCreatePrincipalRequest()
        create.accountID = account
        create.type = "user"
        create.name = name
        let arn = try await stack.client.call(AdminMethod.createPrincipal, create).principal.arn
        for (policyName, document) in policies {
            var put = AdminPutPrincipalPolicyRequest()
            put.principalArn = arn
            put.policyName = policyName
            put.policyDocument = document
            _ = try await stack.client.call(AdminMethod.putPrincipalPolicy, put)
        }
        return Self.party(
            stack, awsEndpoint: awsEndpoint, arn: arn, credentials: try await Self.accessKey(stack, for: arn))
    }

    private static func party(_ stack: KMSStack, awsEndpoint: String, arn: String, credentials: KMSCredentials)
        -> MatrixParty
    {
        // One attempt: a cell records what the server said, never a retry's second answer.
        let binary =
            credentials == stack.adminCredentials
            ? stack.client : try! stack.kmsd.client(credentials: credentials) { $0.maxAttempts = 1 }
        return MatrixParty(
            arn: arn, binary: binary, json: AWSJSONTestClient(endpoint: awsEndpoint, credentials: credentials),
            endpoint: stack.kmsd.endpoint)
    }

    private static func accessKey(_ stack: KMSStack, for arn: String) async throws -> KMSCredentials {
        var request = AdminCreateAccessKeyRequest()
        request.principalArn = arn
        let created = try await stack.client.call(AdminMethod.createAccessKey, request)
        return KMSCredentials(accessKeyID: created.accessKey.accessKeyID, secretAccessKey: created.secretAccessKey)
    }
}

/// One permit, taken in the order asked for.
actor MatrixGate {
    private var taken = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        guard self.taken else {
            self.taken = true
            return
        }
        await withCheckedContinuation { self.waiting.append($0) }
    }

    func release() {
        if self.waiting.isEmpty {
            self.taken = false
        } else {
            self.waiting.removeFirst().resume()
        }
    }
}

func requireValue<T>(_ value: T?, _ message: String) throws -> T {
    guard let value else { throw AWSJSONTestClientError(message) }
    return value
}

/// Runs `body` for every item, at most `limit` at a time.
func forEachConcurrently<T: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        var pending = items.makeIterator()
        for _ in 0..<limit {
            guard let item = pending.next() else { break }
            group.addTask { await body(item) }
        }
        while await group.next() != nil {
            if let item = pending.next() { group.addTask { await body(item) } }
        }
    }
}
