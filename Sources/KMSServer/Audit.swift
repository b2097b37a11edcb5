import Foundation
import KMSDomain
import KMSRPC

extension KMSService {
    /// Counts the request, and writes its audit record, waiting until it is durable. Without an
    /// audit log (tests of the service alone) only counts.
    func audit(_ caller: Caller?, context: RPCRequestContext, operation: String, error: (any Error)?) async throws(KMSError) {
        let details = caller?.trail.details.withLock { $0 } ?? AuditTrail.Details()
        if let caller {
            self.usage.count(account: caller.account, keyARN: details.keyARNs.first, operation: operation, failed: error != nil)
        }
        // One log line per refused request; none per successful one at the default level.
        if let error {
            self.logger.info("request refused", metadata: [
                "operation": "\(operation)", "code": "\(Self.code(of: error))",
                "principal": "\(caller?.principalARN ?? context.connection.identity?.principalARN ?? "anonymous")",
                "key": "\(details.keyARNs.first ?? "")",
            ])
        }
        guard let log = self.auditLog else { return }
        let identity = context.connection.identity
        let entry = AuditEntry(
            time: Date(), requestID: caller?.requestID ?? context.externalID ?? RequestID.next(),
            principalARN: caller?.principalARN ?? identity?.principalARN ?? "anonymous",
            accessKeyID: caller?.accessKeyID ?? identity?.accessKeyID,
            sourceIP: caller?.sourceIP ?? context.connection.remoteIP,
            transport: caller?.transport ?? (identity?.method == .signature ? "aws-json" : "binary"),
            operation: operation, keyARNs: details.keyARNs, alias: details.alias,
            encryptionContext: details.encryptionContext, grantID: details.grantID, errorCode: error.map(Self.code(of:))
        )
        do {
            try await log.append(entry)
        } catch {
            throw KMSError.internalFailure("the audit log is unavailable; the request was not answered; retry later")
        }
    }

    static func code(of error: any Error) -> String {
        switch error {
        case let error as KMSError: error.code.rawValue
        case let error as RPCError: error.code
        default: KMSError.Code.internalFailure.rawValue
        }
    }
}
