import Foundation
import KMSDomain
import KMSStore

/// Accounts, principals, access keys and identity policies (IdentityStore in PostgreSQL). What
/// an implementation must keep:
///
/// - Each change stores `audit` with it only when it takes effect (a true answer, `.inserted`,
///   `.stored`), then calls `audit.markCommitted()`; any other answer stored nothing.
/// - A principal belongs to an existing account: inserting one for an unknown account throws.
///   Deleting a principal deletes its access keys and identity policies with it.
/// - The limits (`AccessKeyRecord.maximumPerPrincipal`, `IdentityPolicyRecord.maximumPerPrincipal`)
///   hold under concurrent calls: the count and the insert are one step per principal.
/// - Secrets are stored only as kms-cryptod wrapped them; a store never sees one in the clear.
public protocol IdentityStoring: Sendable {
    /// Creates an account with its root principal, both or neither; false when the account id is taken.
    func insertAccount(_ account: AccountRecord, root: PrincipalRecord, audit: PendingAudit?) async throws -> Bool

    /// Every account, by id; at most 1000.
    func accounts() async throws -> [AccountRecord]

    /// The account with this id, or nil.
    func account(_ id: String) async throws -> AccountRecord?

    /// Inserts a principal; false when one with that ARN exists.
    func insertPrincipal(_ principal: PrincipalRecord, audit: PendingAudit?) async throws -> Bool

    /// The principal with this ARN, or nil.
    func principal(_ arn: String) async throws -> PrincipalRecord?

    /// The account's principals, by ARN; at most 1000.
    func principals(account: String) async throws -> [PrincipalRecord]

    /// Deletes a principal with its access keys and policies; false when there was none.
    func deletePrincipal(_ arn: String, audit: PendingAudit?) async throws -> Bool

    /// True when some admin principal has an access key (the bootstrap has been done).
    func hasAdminWithAccessKey() async throws -> Bool

    /// Stores an access key, its secret wrapped under root key `rootKeyID` (which the re-wrap
    /// job reads back, `RewrapStoring`): `.duplicateID` when the id exists, `.limitReached`
    /// when the principal has `AccessKeyRecord.maximumPerPrincipal` keys already.
    func insertAccessKey(_ key: AccessKeyRecord, rootKeyID: UUID, audit: PendingAudit?) async throws
        -> IdentityStore.AccessKeyInsert

    /// The access key with this id, its secret still wrapped; nil when there is none.
    func accessKey(_ id: String) async throws -> AccessKeyRecord?

    /// The principal's access keys, oldest first.
    func accessKeys(of principalARN: String) async throws -> [AccessKeyRecord]

    /// Sets an access key's status; false when there is no such access key.
    func setAccessKeyStatus(_ id: String, _ status: AccessKeyRecord.Status, audit: PendingAudit?) async throws -> Bool

    /// Deletes an access key; false when there was none.
    func deleteAccessKey(_ id: String, audit: PendingAudit?) async throws -> Bool

    /// Creates or replaces the principal's policy of that name: `.limitReached` (nothing stored)
    /// when the principal has `IdentityPolicyRecord.maximumPerPrincipal` other policies;
    /// replacing one never counts against the limit.
    func putPolicy(_ policy: IdentityPolicyRecord, audit: PendingAudit?) async throws -> IdentityStore.PolicyPut

    /// The principal's identity policies, by name.
    func policies(of principalARN: String) async throws -> [IdentityPolicyRecord]

    /// Deletes the principal's policy of that name; false when there was none.
    func deletePolicy(principalARN: String, name: String, audit: PendingAudit?) async throws -> Bool
}

extension IdentityStore: IdentityStoring {}
