import Foundation
import KMSCrypto
import KMSDomain
import KMSWorkerProto

extension CryptoWorker {
    /// Unwraps an external key store's proxy secret for kmsd, which signs its requests to that
    /// proxy with it. Only a blob bound to a custom key store's ARN unwraps here, so this never
    /// hands out a principal's access key secret (whose blobs are bound to principal ARNs).
    public func unwrapXksProxySecret(_ request: WorkerUnwrapXksProxySecretRequest) throws(KMSError)
        -> WorkerUnwrapXksProxySecretResponse
    {
        guard (20...30).contains(request.accessKeyID.utf8.count),
            request.accessKeyID.utf8.allSatisfy({ (0x41...0x5A).contains($0) || (0x32...0x37).contains($0) })
        else { throw .validation("access_key_id must be 20..30 characters of A-Z and 2-7") }
        let parts = request.storeArn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "kms", Account.isValid(String(parts[4])),
            parts[5].hasPrefix("key-store/"), CustomKeyStoreID(String(parts[5].dropFirst(10))) != nil
        else { throw .validation("store_arn must be a custom key store ARN (arn:...:key-store/cks-...)") }
        var response = WorkerUnwrapXksProxySecretResponse()
        response.secretAccessKey = try AccessKeySecrets.withUnwrapped(
            [UInt8](request.wrappedSecret), accessKeyID: request.accessKeyID, principalARN: request.storeArn,
            keyring: self.keyring
        ) { secret in Data(secret) }
        return response
    }
}
