import Foundation
import KMSClient
import KMSProto
import KMSRPC

/// The vocabulary of the negative matrix (AuthorizationMatrixTests): who calls, through which
/// protocol, on a key in which state, naming it how, and what AWS KMS answers.
enum Matrix {
    static let accountA = "111122223333"
    static let accountB = "444455556666"
    static let region = "us-east-1"
    /// Served by the test's kmsd (--regions) but not the region callers act in.
    static let otherRegion = "eu-west-1"
    /// Not served at all.
    static let unservedRegion = "ap-south-1"
    static let ok = "ok"
    static let accessDenied = "AccessDeniedException"
    static let notFound = "NotFoundException"
    static let storeNotFound = "CustomKeyStoreNotFoundException"
    /// A custom key store id no store has.
    static let missingStore = "cks-0000000000000000f"
    static let disabled = "DisabledException"
    static let invalidState = "KMSInvalidStateException"

    static func user(_ account: String, _ name: String) -> String { "arn:aws:iam::\(account):user/\(name)" }
    static func keyARN(_ keyID: String, account: String = accountA, region: String = region) -> String {
        "arn:aws:kms:\(region):\(account):key/\(keyID)"
    }
    static func aliasARN(_ aliasName: String, account: String = accountA) -> String {
        "arn:aws:kms:\(region):\(account):\(aliasName)"
    }
}

/// The key states a matrix key is put in before the cells run.
enum MatrixState: String, CaseIterable, Sendable {
    case enabled = "Enabled"
    case disabled = "Disabled"
    case pendingDeletion = "PendingDeletion"
}

enum MatrixProtocol: String, CaseIterable, Sendable {
    case binary
    case awsJSON = "aws-json"
}

/// Who calls. The policy principals are set up once per run (MatrixWorld); the credential
/// failures never get past authentication.
enum MatrixActor: String, CaseIterable, Sendable {
    case root = "A root"
    case admin = "A admin"
    case keyPolicyUser = "A user allowed by the key policy"
    case identityPolicyUser = "A user allowed by its identity policy"
    case grantee = "A user with a grant for the operation"
    case otherGrantee = "A user with a grant for another operation"
    case denied = "A user whose identity policy denies kms:*"
    case nobody = "A user without permissions"
    case stranger = "B user without key policy access"
    case partner = "B user allowed by key and identity policy"
    case noCredentials = "no credentials"
    case badSecret = "a wrong secret"
    case unknownAccessKey = "an unknown access key"
    case inactiveAccessKey = "a deactivated access key"

    var account: String {
        switch self {
        case .stranger, .partner: Matrix.accountB
        default: Matrix.accountA
        }
    }

    var isOtherAccount: Bool { self.account != Matrix.accountA }

    /// The codes a request with these credentials fails with, whatever it asks; nil for a
    /// caller who authenticates.
    func credentialFailure(_ transport: MatrixProtocol) -> [String]? {
        switch self {
        case .noCredentials:
            return ["MissingAuthenticationTokenException"]
        case .badSecret:
            // The binary handshake proves the secret with an HMAC over the challenge; either
            // name for a proof that does not verify is what the client reports.
            return transport == .binary
                ? ["InvalidSignatureException", "UnrecognizedClientException"] : ["InvalidSignatureException"]
        case .unknownAccessKey, .inactiveAccessKey:
            return ["UnrecognizedClientException"]
        default:
            return nil
        }
    }
}

/// How a cell names the key. `natural` is how a caller names a key it may use: its key id in
/// its own account, its key ARN from another account. The others must all resolve nowhere
/// (NotFoundException) except the alias ARN, which names the same key as the key ARN.
enum MatrixReference: String, CaseIterable, Sendable {
    case natural = "natural"
    case bareKeyID = "bare key id"
    case aliasName = "alias name"
    case aliasARN = "alias ARN"
    case otherAccountARN = "key ARN naming account B"
    case otherRegionARN = "key ARN in eu-west-1"
    case unservedRegionARN = "key ARN in unserved ap-south-1"
    case callerInOtherRegion = "bare key id, caller signed for eu-west-1"

    /// The extra cells of each key operation: who tries, and through which protocols.
    static let probes: [(MatrixActor, MatrixReference, [MatrixProtocol])] = [
        (.partner, .bareKeyID, MatrixProtocol.allCases),
        (.partner, .aliasName, MatrixProtocol.allCases),
        (.partner, .aliasARN, MatrixProtocol.allCases),
        (.admin, .otherAccountARN, MatrixProtocol.allCases),
        (.admin, .otherRegionARN, MatrixProtocol.allCases),
        (.admin, .unservedRegionARN, MatrixProtocol.allCases),
        // A binary connection has no region of its own: only SigV4 scopes a caller to one.
        (.admin, .callerInOtherRegion, [.awsJSON]),
    ]

    var needsAlias: Bool { self == .aliasName || self == .aliasARN }
}

/// One cell: an operation by an actor on a key in a state through a protocol, naming the key
/// a certain way.
struct MatrixCell: Hashable, Sendable, CustomStringConvertible {
    let operation: String
    let actor: MatrixActor
    let state: MatrixState?
    let transport: MatrixProtocol
    let reference: MatrixReference

    var description: String {
        var text =
            "\(self.operation) × \(self.actor.rawValue) × \(self.state?.rawValue ?? "no key") × "
            + "\(self.transport.rawValue)"
        if self.reference != .natural { text += " [\(self.reference.rawValue)]" }
        return text
    }

    /// A name unique to this cell, for the aliases and grants it consumes.
    var slug: String {
        let parts = [
            self.operation, self.state?.rawValue ?? "none", String(describing: self.actor), self.transport.rawValue,
            String(describing: self.reference),
        ]
        return parts.joined(separator: "-")
    }
}

/// A request both protocols can send: the binary protocol's typed call and the same request
/// in AWS JSON. Either way the answer comes back as AWS JSON, so a cell reads both alike.
struct MatrixRequest: Sendable {
    let operation: String
    let binary: @Sendable (KMSClient) async throws -> Data
    /// The same over a bare connection (for a connection that authenticated without a client).
    let raw: @Sendable (RPCClientConnection) async throws -> Data
    let json: Data

    init<Request, Response>(_ method: RPCMethod<Request, Response>, _ request: Request) {
        self.operation = method.name
        self.binary = { client in
            let response = try await client.call(method, request)
            return (try? AWSJSON.data(response)) ?? Data()
        }
        self.raw = { connection in
            let response = try await connection.call(method, request)
            return (try? AWSJSON.data(response)) ?? Data()
        }
        self.json = (try? AWSJSON.data(request)) ?? Data()
    }
}

/// What a call came back with: "ok" or the error code, the error's message, and the response
/// (AWS JSON) on success.
struct MatrixOutcome: Sendable {
    var code: String
    var message: String = ""
    var body = Data()

    var succeeded: Bool { self.code == Matrix.ok }

    func decode<Request, Response>(_ method: RPCMethod<Request, Response>) throws -> Response {
        try AWSJSON.decode(Response.self, from: self.body)
    }
}
