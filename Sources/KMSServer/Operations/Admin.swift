import Foundation
import KMSCrypto
import KMSDomain
import KMSPolicy
import KMSProto
import KMSStore
import KMSWorkerProto
import Logging
import SwiftProtobuf

/// The admin service (`proto/kms/admin/v1/admin.proto`): accounts, principals, access keys and
/// identity policies. Every operation but GetCallerIdentity is for admin principals only.
extension KMSService {
    func getCallerIdentity(_ request: AdminGetCallerIdentityRequest, caller: Caller) async throws(KMSError)
        -> AdminGetCallerIdentityResponse
    {
        var response = AdminGetCallerIdentityResponse()
        response.arn = caller.principalARN
        response.account = caller.account
        response.accessKeyID = caller.accessKeyID ?? ""
        response.admin = caller.isAdmin
        return response
    }

    func createAccount(_ request: AdminCreateAccountRequest, caller: Caller) async throws(KMSError)
        -> AdminCreateAccountResponse
    {
        try Self.requireAdmin(caller, "CreateAccount")
        try AccountRecord.checkName(request.name)
        var accountID = request.accountID
        if accountID.isEmpty {
            accountID = String((0..<12).map { _ in "0123456789".randomElement()! })
        } else if !AccountRecord.isValidID(accountID) {
            throw .validation("AccountId must be 12 digits")
        }
        let now = self.wholeSecondsNow()
        let account = AccountRecord(accountID: accountID, name: request.name, creationDate: now)
        let root = PrincipalRecord(
            arn: PrincipalRecord.arn(partition: self.scope.partition, account: accountID, kind: .root, name: "root"),
            accountID: accountID, kind: .root, name: "root", isAdmin: false, creationDate: now
        )
        let audit = self.changeRecord(caller)
        guard
            try await self.store({ try await self.stores.identities.insertAccount(account, root: root, audit: audit) })
        else {
            throw KMSError(.alreadyExists, "Account \(accountID) already exists.")
        }
        self.logger.notice("account created", metadata: ["account": "\(accountID)", "by": "\(caller.principalARN)"])
        var response = AdminCreateAccountResponse()
        response.account = AdminAccount(account)
        response.root = AdminPrincipal(root)
        return response
    }

    func listAccounts(_ request: AdminListAccountsRequest, caller: Caller) async throws(KMSError)
        -> AdminListAccountsResponse
    {
        try Self.requireAdmin(caller, "ListAccounts")
        var response = AdminListAccountsResponse()
        response.accounts = try await self.store { try await self.stores.identities.accounts() }.map(AdminAccount.init)
        return response
    }

    func createPrincipal(_ request: AdminCreatePrincipalRequest, caller: Caller) async throws(KMSError)
        -> AdminCreatePrincipalResponse
    {
        try Self.requireAdmin(caller, "CreatePrincipal")
        guard let kind = PrincipalRecord.Kind(rawValue: request.type), kind != .root else {
            throw .validation("Type must be 'user' or 'role' (an account's root is created with the account)")
        }
        try PrincipalRecord.checkName(request.name, field: "Name")
        guard AccountRecord.isValidID(request.accountID) else { throw .validation("AccountId must be 12 digits") }
        guard try await self.store({ try await self.stores.identities.account(request.accountID) }) != nil else {
            throw KMSError(.notFound, "Account \(request.accountID) does not exist.")
        }
        let principal = PrincipalRecord(
            arn: PrincipalRecord.arn(
                partition: self.scope.partition, account: request.accountID, kind: kind, name: request.name),
            accountID: request.accountID, kind: kind, name: request.name, isAdmin: request.admin,
            creationDate: self.wholeSecondsNow()
        )
        let audit = self.changeRecord(caller)
        guard try await self.store({ try await self.stores.identities.insertPrincipal(principal, audit: audit) }) else {
            throw KMSError(.alreadyExists, "Principal \(principal.arn) already exists.")
        }
        self.logger.notice(
            "principal created",
            metadata: [
                "principal": "\(principal.arn)", "admin": "\(principal.isAdmin)", "by": "\(caller.principalARN)",
            ])
        var response = AdminCreatePrincipalResponse()
        response.principal = AdminPrincipal(principal)
        return response
    }

    func listPrincipals(_ request: AdminListPrincipalsRequest, caller: Caller) async throws(KMSError)
        -> AdminListPrincipalsResponse
    {
        try Self.requireAdmin(caller, "ListPrincipals")
        guard AccountRecord.isValidID(request.accountID) else { throw .validation("AccountId must be 12 digits") }
        var response = AdminListPrincipalsResponse()
        response.principals = try await self.store {
            try await self.stores.identities.principals(account: request.accountID)
        }
        .map(AdminPrincipal.init)
        return response
    }

    func deletePrincipal(_ request: AdminDeletePrincipalRequest, caller: Caller) async throws(KMSError)
        -> AdminDeletePrincipalResponse
    {
        try Self.requireAdmin(caller, "DeletePrincipal")
        let principal = try await self.existingPrincipal(request.principalArn)
        guard principal.kind != .root else {
            throw .validation("An account's root principal cannot be deleted.")
        }
        guard principal.arn != caller.principalARN else {
            throw .validation("You cannot delete the principal you are calling as.")
        }
        let audit = self.changeRecord(caller)
        _ = try await self.store { try await self.stores.identities.deletePrincipal(principal.arn, audit: audit) }
        self.logger.notice(
            "principal deleted", metadata: ["principal": "\(principal.arn)", "by": "\(caller.principalARN)"])
        return AdminDeletePrincipalResponse()
    }

    func createAccessKey(_ request: AdminCreateAccessKeyRequest, caller: Caller) async throws(KMSError)
        -> AdminCreateAccessKeyResponse
    {
        try Self.requireAdmin(caller, "CreateAccessKey")
        guard request.accessKeyID.isEmpty == request.secretAccessKey.isEmpty else {
            throw .validation(
                "Give both AccessKeyId and SecretAccessKey to import a fixed pair, or neither for a new one.")
        }
        let principal = try await self.existingPrincipal(request.principalArn)
        let (record, secret) = try await Self.createAccessKey(
            for: principal, id: request.accessKeyID.isEmpty ? nil : request.accessKeyID,
            secret: request.secretAccessKey.isEmpty ? nil : request.secretAccessKey,
            identities: self.stores.identities, worker: self.worker, now: self.wholeSecondsNow(),
            audit: self.changeRecord(caller), logger: self.logger,
            metrics: self.metrics
        )
        self.logger.notice(
            "access key created",
            metadata: [
                "access_key_id": "\(record.accessKeyID)", "principal": "\(principal.arn)",
                "by": "\(caller.principalARN)",
            ])
        var response = AdminCreateAccessKeyResponse()
        response.accessKey = AdminAccessKey(record)
        response.secretAccessKey = secret
        return response
    }

    /// Makes an access key (or imports a given pair) for `principal`: the worker wraps the
    /// secret, the database stores only the wrapped form. Shared with the bootstrap.
    static func createAccessKey(
        for principal: PrincipalRecord, id: String?, secret: String?, identities: any IdentityStoring,
        worker: any CryptoBackend,
        now: Date,
        audit: PendingAudit?, logger: Logger, metrics: ServiceMetrics
    ) async throws(KMSError) -> (AccessKeyRecord, String) {
        let accessKeyID = id ?? AccessKeySecrets.generateAccessKeyID()
        guard AccessKeySecrets.isValidAccessKeyID(accessKeyID) else {
            throw .validation("AccessKeyId must be 16..128 characters of A-Z and 0-9")
        }
        if let secret, !AccessKeySecrets.isValidSecret(secret) {
            throw .validation("SecretAccessKey must be 16..128 printable ASCII characters")
        }
        var wrap = WorkerCreateAccessKeySecretRequest()
        wrap.accessKeyID = accessKeyID
        wrap.principalArn = principal.arn
        wrap.secretAccessKey = secret ?? ""
        let wrapped = try await worker.call(WorkerMethod.createAccessKeySecret, wrap)
        guard let rootKeyID = UUID(uuidString: wrapped.rootKeyID) else {
            throw KMSError.internalFailure("the crypto worker named an invalid root key")
        }
        let record = AccessKeyRecord(
            accessKeyID: accessKeyID, principalARN: principal.arn, status: .active,
            wrappedSecret: Array(wrapped.wrappedSecret), creationDate: now
        )
        let outcome = try await storeCall(logger: logger, metrics: metrics) {
            try await identities.insertAccessKey(record, rootKeyID: rootKeyID, audit: audit)
        }
        switch outcome {
        case .inserted:
            return (record, wrapped.secretAccessKey)
        case .duplicateID:
            throw KMSError(.alreadyExists, "Access key \(accessKeyID) already exists.")
        case .limitReached:
            throw KMSError(
                .limitExceeded, "Cannot exceed quota for AccessKeysPerUser: \(AccessKeyRecord.maximumPerPrincipal)")
        }
    }

    func listAccessKeys(_ request: AdminListAccessKeysRequest, caller: Caller) async throws(KMSError)
        -> AdminListAccessKeysResponse
    {
        try Self.requireAdmin(caller, "ListAccessKeys")
        let principal = try await self.existingPrincipal(request.principalArn)
        var response = AdminListAccessKeysResponse()
        response.accessKeys = try await self.store { try await self.stores.identities.accessKeys(of: principal.arn) }
            .map(AdminAccessKey.init)
        return response
    }

    func updateAccessKey(_ request: AdminUpdateAccessKeyRequest, caller: Caller) async throws(KMSError)
        -> AdminUpdateAccessKeyResponse
    {
        try Self.requireAdmin(caller, "UpdateAccessKey")
        guard let status = AccessKeyRecord.Status(rawValue: request.status) else {
            throw .validation("Status must be 'Active' or 'Inactive'")
        }
        let audit = self.changeRecord(caller)
        guard
            try await self.store({
                try await self.stores.identities.setAccessKeyStatus(request.accessKeyID, status, audit: audit)
            })
        else {
            throw KMSError(.notFound, "The Access Key with id \(request.accessKeyID.prefix(128)) cannot be found.")
        }
        self.logger.notice(
            "access key status changed",
            metadata: [
                "access_key_id": "\(request.accessKeyID)", "status": "\(status.rawValue)",
                "by": "\(caller.principalARN)",
            ])
        return AdminUpdateAccessKeyResponse()
    }

    func deleteAccessKey(_ request: AdminDeleteAccessKeyRequest, caller: Caller) async throws(KMSError)
        -> AdminDeleteAccessKeyResponse
    {
        try Self.requireAdmin(caller, "DeleteAccessKey")
        let audit = self.changeRecord(caller)
        guard
            try await self.store({ try await self.stores.identities.deleteAccessKey(request.accessKeyID, audit: audit) }
            )
        else {
            throw KMSError(.notFound, "The Access Key with id \(request.accessKeyID.prefix(128)) cannot be found.")
        }
        self.logger.notice(
            "access key deleted", metadata: ["access_key_id": "\(request.accessKeyID)", "by": "\(caller.principalARN)"])
        return AdminDeleteAccessKeyResponse()
    }

    func putPrincipalPolicy(_ request: AdminPutPrincipalPolicyRequest, caller: Caller) async throws(KMSError)
        -> AdminPutPrincipalPolicyResponse
    {
        try Self.requireAdmin(caller, "PutPrincipalPolicy")
        try PrincipalRecord.checkName(request.policyName, field: "PolicyName", maximum: 128)
        let principal = try await self.existingPrincipal(request.principalArn)
        guard principal.kind != .root else {
            throw .validation("An account's root has every permission in its account; it takes no identity policies.")
        }
        _ = try PolicyDocument.parse(request.policyDocument, kind: .identity)
        let record = IdentityPolicyRecord(
            principalARN: principal.arn, name: request.policyName, document: request.policyDocument)
        let audit = self.changeRecord(caller)
        guard try await self.store({ try await self.stores.identities.putPolicy(record, audit: audit) }) == .stored
        else {
            throw KMSError(
                .limitExceeded,
                "Cannot exceed quota for PoliciesPerPrincipal: \(IdentityPolicyRecord.maximumPerPrincipal)")
        }
        self.logger.notice(
            "identity policy stored",
            metadata: [
                "principal": "\(principal.arn)", "policy": "\(request.policyName)", "by": "\(caller.principalARN)",
            ])
        return AdminPutPrincipalPolicyResponse()
    }

    func getPrincipalPolicy(_ request: AdminGetPrincipalPolicyRequest, caller: Caller) async throws(KMSError)
        -> AdminGetPrincipalPolicyResponse
    {
        try Self.requireAdmin(caller, "GetPrincipalPolicy")
        let principal = try await self.existingPrincipal(request.principalArn)
        let policies = try await self.store { try await self.stores.identities.policies(of: principal.arn) }
        guard let policy = policies.first(where: { $0.name == request.policyName }) else {
            throw KMSError(
                .notFound, "The policy \(request.policyName.prefix(128)) of \(principal.arn) cannot be found.")
        }
        var response = AdminGetPrincipalPolicyResponse()
        response.policyName = policy.name
        response.policyDocument = policy.document
        return response
    }

    func listPrincipalPolicies(_ request: AdminListPrincipalPoliciesRequest, caller: Caller) async throws(KMSError)
        -> AdminListPrincipalPoliciesResponse
    {
        try Self.requireAdmin(caller, "ListPrincipalPolicies")
        let principal = try await self.existingPrincipal(request.principalArn)
        var response = AdminListPrincipalPoliciesResponse()
        response.policyNames = try await self.store { try await self.stores.identities.policies(of: principal.arn) }
            .map(
                \.name)
        return response
    }

    func deletePrincipalPolicy(_ request: AdminDeletePrincipalPolicyRequest, caller: Caller) async throws(KMSError)
        -> AdminDeletePrincipalPolicyResponse
    {
        try Self.requireAdmin(caller, "DeletePrincipalPolicy")
        let principal = try await self.existingPrincipal(request.principalArn)
        let audit = self.changeRecord(caller)
        guard
            try await self.store({
                try await self.stores.identities.deletePolicy(
                    principalARN: principal.arn, name: request.policyName, audit: audit)
            })
        else {
            throw KMSError(
                .notFound, "The policy \(request.policyName.prefix(128)) of \(principal.arn) cannot be found.")
        }
        self.logger.notice(
            "identity policy deleted",
            metadata: [
                "principal": "\(principal.arn)", "policy": "\(request.policyName)", "by": "\(caller.principalARN)",
            ])
        return AdminDeletePrincipalPolicyResponse()
    }

    // MARK: Helpers

    static func requireAdmin(_ caller: Caller, _ operation: String) throws(KMSError) {
        guard caller.isAdmin else {
            throw KMSError.accessDenied(
                AccessDenial(
                    principal: caller.principalARN, action: "kms-admin:\(operation)", resource: nil,
                    .because("it is not an admin principal")))
        }
    }

    func existingPrincipal(_ arn: String) async throws(KMSError) -> PrincipalRecord {
        guard arn.hasPrefix("arn:"), arn.utf8.count <= 2048 else {
            throw .validation("PrincipalArn must be a principal ARN")
        }
        guard let principal = try await self.store({ try await self.stores.identities.principal(arn) }) else {
            throw KMSError(.notFound, "Principal \(arn) does not exist.")
        }
        return principal
    }

    func wholeSecondsNow() -> Date {
        Date(timeIntervalSince1970: self.now().timeIntervalSince1970.rounded(.down))
    }
}

extension AdminAccount {
    init(_ account: AccountRecord) {
        self.init()
        self.accountID = account.accountID
        self.name = account.name
        self.creationDate = Google_Protobuf_Timestamp(date: account.creationDate)
    }
}

extension AdminPrincipal {
    init(_ principal: PrincipalRecord) {
        self.init()
        self.arn = principal.arn
        self.accountID = principal.accountID
        self.type = principal.kind.rawValue
        self.name = principal.name
        self.admin = principal.isAdmin
        self.creationDate = Google_Protobuf_Timestamp(date: principal.creationDate)
    }
}

extension AdminAccessKey {
    init(_ key: AccessKeyRecord) {
        self.init()
        self.accessKeyID = key.accessKeyID
        self.principalArn = key.principalARN
        self.status = key.status.rawValue
        self.creationDate = Google_Protobuf_Timestamp(date: key.creationDate)
    }
}

extension KMSService {
    func startRewrap(_ request: AdminStartRewrapRequest, caller: Caller) async throws(KMSError)
        -> AdminStartRewrapResponse
    {
        try Self.requireAdmin(caller, "StartRewrap")
        let audit = self.changeRecord(caller)
        let (job, started) = try await self.store {
            try await self.stores.rewraps.start(
                requestedBy: caller.principalARN, at: self.now(), audit: audit)
        }
        if started {
            self.logger.notice(
                "root key re-wrap requested", metadata: ["job": "\(job.id)", "by": "\(caller.principalARN)"])
        }
        var response = AdminStartRewrapResponse()
        response.jobID = job.id
        response.started = started
        return response
    }

    func getRewrapStatus(_ request: AdminGetRewrapStatusRequest, caller: Caller) async throws(KMSError)
        -> AdminGetRewrapStatusResponse
    {
        try Self.requireAdmin(caller, "GetRewrapStatus")
        let store = self.stores.rewraps
        let job = try await self.store { try await store.latest() }
        let usage = try await self.store { try await store.usage() }
        let rootKeys = try await self.worker.call(WorkerMethod.describe, WorkerDescribeRequest()).rootKeyIds.compactMap(
            UUID.init(uuidString:))
        var response = AdminGetRewrapStatusResponse()
        if let job {
            response.jobID = job.id
            response.state = job.finishedAt == nil ? "Running" : "Finished"
            response.requestedAt = Google_Protobuf_Timestamp(date: job.requestedAt)
            if let finished = job.finishedAt { response.finishedAt = Google_Protobuf_Timestamp(date: finished) }
            response.rewrapped = job.rewrapped
        } else {
            response.state = "None"
        }
        for id in Set(usage.keys).union(rootKeys).sorted(by: { $0.uuidString < $1.uuidString }) {
            var entry = AdminRootKeyUsage()
            entry.rootKeyID = id.uuidString.lowercased()
            entry.keyMaterials = usage[id]?.materials ?? 0
            entry.accessKeySecrets = usage[id]?.secrets ?? 0
            entry.inKeyring = rootKeys.contains(id)
            entry.newest = rootKeys.first == id
            if !entry.inKeyring { response.unavailable += entry.keyMaterials + entry.accessKeySecrets }
            response.rootKeys.append(entry)
        }
        return response
    }
}
