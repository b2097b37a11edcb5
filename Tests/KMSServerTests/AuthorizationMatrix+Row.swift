import Foundation
import KMSProto

/// The kind of key an operation works on; the fixture prepares what its requests need.
enum MatrixKeyKind: Sendable {
    /// SYMMETRIC_DEFAULT, with a ciphertext made while it was enabled.
    case symmetric
    /// ECC_NIST_P256 SIGN_VERIFY, with a signature.
    case signing
    /// HMAC_256, with a MAC.
    case hmac
    /// ECC_NIST_P256 KEY_AGREEMENT, with its own public key as the peer's.
    case agreement
    /// SYMMETRIC_DEFAULT of origin EXTERNAL, material imported, with the import token and the
    /// wrapped material (importing the same material again changes nothing).
    case external
}

/// Who may do an operation, with the principals, policies and grants of MatrixWorld.
enum MatrixAuthority: Sendable {
    /// The key policy, directly or delegating to the account's identity policies; the row's
    /// grant; across accounts only when AWS allows the operation there ("Cross-account use"
    /// in each operation's API reference).
    case key
    /// CreateAlias, UpdateAlias, DeleteAlias: kms:<op> on the alias ARN in an identity policy
    /// and on the key(s) in the key policy (AWS API reference, "Required permissions", and
    /// developer guide "Controlling access to aliases"): a principal named only in the key
    /// policy may not. A caller of account B gets `otherAccount`.
    case aliasAndKey(otherAccount: [String])
    /// Operations on no key: identity policies (and an account root's implicit rights).
    /// `ownAccountOnly`: a request naming a principal of another account is refused
    /// (ListRetirableGrants).
    case identity(ownAccountOnly: Bool)
    /// RetireGrant: the grant decides. The matrix retires a grant whose grantee is the grantee
    /// principal and which includes RetireGrant; besides the grantee, the account that issued
    /// it may, which delegates kms:RetireGrant through identity policies only: "The
    /// kms:RetireGrant permission is not effective in a key policy" (developer guide, "Retiring
    /// and revoking grants"), so neither the key-policy user nor account B's partner may.
    /// ("Cross-account use: Yes" is for the principals a grant names: a retiring principal of
    /// another account, which the focused grant test covers.)
    case grant
}

/// What an authorized caller gets in each key state, from the developer guide's key state
/// table ("Key states of AWS KMS keys"): [1] DisabledException, [3] KMSInvalidStateException
/// "is pending deletion", [4] KMSInvalidStateException "is not pending deletion".
struct MatrixStates: Sendable {
    let outcomes: [MatrixState: String]

    static let always = MatrixStates(outcomes: [.enabled: Matrix.ok, .disabled: Matrix.ok, .pendingDeletion: Matrix.ok])
    /// Cryptographic operations, CreateGrant, Enable/DisableKeyRotation, RotateKeyOnDemand.
    static let usable = MatrixStates(outcomes: [
        .enabled: Matrix.ok, .disabled: Matrix.disabled, .pendingDeletion: Matrix.invalidState,
    ])
    /// Management that works on a disabled key but not on one pending deletion.
    static let notPendingDeletion = MatrixStates(outcomes: [
        .enabled: Matrix.ok, .disabled: Matrix.ok, .pendingDeletion: Matrix.invalidState,
    ])
    /// ReplicateKey and UpdatePrimaryRegion on a single-Region key: an authorized caller learns
    /// that it is none, in every state.
    static let notMultiRegion = MatrixStates(outcomes: [
        .enabled: "UnsupportedOperationException", .disabled: "UnsupportedOperationException",
        .pendingDeletion: "UnsupportedOperationException",
    ])
    static let onlyPendingDeletion = MatrixStates(outcomes: [
        .enabled: Matrix.invalidState, .disabled: Matrix.invalidState, .pendingDeletion: Matrix.ok,
    ])
}

/// What a cell's request is built from: how it names the key, and the alias or grant the cell
/// consumes (empty when the row needs none).
struct MatrixTarget: Sendable {
    let key: String
    let resource: String
}

/// Resources each cell of a row gets of its own, so that a success consumes nothing another
/// cell needs.
enum MatrixPerCell: Sendable {
    /// A fresh alias name (CreateAlias).
    case newAliasName
    /// An alias of the key (DeleteAlias).
    case alias
    /// A grant for another principal (RevokeGrant).
    case grantToRevoke
    /// A grant to the grantee principal that includes RetireGrant (RetireGrant).
    case grantToRetire
}

/// One operation of the matrix.
struct MatrixRow: Sendable {
    let operation: String
    /// nil: an operation on no key (CreateKey, ListKeys, ...), run once per actor and protocol.
    let key: MatrixKeyKind?
    /// AWS allows it on another account's key (API reference, "Cross-account use: Yes").
    let crossAccount: Bool
    /// The grant operations that allow it; nil when no grant can.
    let grant: [KMSGrantOperation]?
    let authority: MatrixAuthority
    let states: MatrixStates
    /// AWS accepts an alias name or alias ARN for the key.
    let acceptsAlias: Bool
    /// A success moves the key to another state; the admin puts it back after each.
    let changesKeyState: Bool
    /// A success writes the key (description, policy, tags, rotation, material, an alias of
    /// it): the row's cells run one after another, never racing on the key's row version.
    let serial: Bool
    /// A success makes an RSA wrapping key on kms-cryptod's single key-generation thread: one
    /// at a time in the whole run (MatrixWorld.rsaGate), or a queue of them could outlast
    /// kmsd's 10 s worker timeout on a loaded machine.
    let makesRSAKey: Bool
    /// The request names a key (every key operation but DeleteAlias, which names an alias).
    let namesKey: Bool
    let perCell: MatrixPerCell?
    /// What a caller allowed gets, on a row of no key ("ok" unless the request is built to fail after authorization).
    let allowed: String
    let build: @Sendable (MatrixFixture, MatrixTarget) -> MatrixRequest

    init(
        _ operation: String, _ key: MatrixKeyKind?, crossAccount: Bool = false, grant: [KMSGrantOperation]? = nil,
        authority: MatrixAuthority = .key, states: MatrixStates = .always, aliases: Bool = false,
        changesKeyState: Bool = false, serial: Bool = false, makesRSAKey: Bool = false, namesKey: Bool = true,
        perCell: MatrixPerCell? = nil, allowed: String = Matrix.ok,
        build: @escaping @Sendable (MatrixFixture, MatrixTarget) -> MatrixRequest
    ) {
        self.allowed = allowed
        self.operation = operation
        self.key = key
        self.crossAccount = crossAccount
        self.grant = grant
        self.authority = authority
        self.states = states
        self.acceptsAlias = aliases
        self.changesKeyState = changesKeyState
        self.serial = serial || changesKeyState
        self.makesRSAKey = makesRSAKey
        self.namesKey = namesKey
        self.perCell = perCell
        self.build = build
    }

    /// The codes a cell may come back with ("ok" for success).
    func expected(_ cell: MatrixCell) -> [String] {
        if let failure = cell.actor.credentialFailure(cell.transport) { return failure }
        // A reference that names no key of the caller's account and region finds nothing; the
        // alias ARN names the same key as the key ARN.
        if cell.reference != .natural, cell.reference != .aliasARN { return [Matrix.notFound] }
        // Authorization comes before the key state: a refused caller learns nothing about it.
        if let refusal = self.refusal(of: cell.actor) { return refusal }
        guard let state = cell.state else { return [self.allowed] }
        return [self.states.outcomes[state]!]
    }

    /// nil when `actor` is allowed; else what it gets.
    func refusal(of actor: MatrixActor) -> [String]? {
        let denied = [Matrix.accessDenied]
        switch self.authority {
        case .key:
            switch actor {
            case .root, .admin, .keyPolicyUser, .identityPolicyUser: return nil
            case .grantee: return self.grant == nil ? denied : nil
            case .partner: return self.crossAccount ? nil : denied
            default: return denied
            }
        case .aliasAndKey(let otherAccount):
            switch actor {
            case .root, .admin, .identityPolicyUser: return nil
            case .stranger, .partner: return otherAccount
            default: return denied
            }
        case .identity(let ownAccountOnly):
            switch actor {
            case .root, .admin, .identityPolicyUser: return nil
            case .stranger, .partner: return ownAccountOnly ? denied : nil
            default: return denied
            }
        case .grant:
            switch actor {
            case .root, .admin, .identityPolicyUser, .grantee: return nil
            default: return denied
            }
        }
    }
}
