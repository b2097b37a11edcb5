import Foundation
import KMSClient
import KMSProto
import KMSTestSupport
import Testing

/// The multi-Region tests' stack: kmsd serving three regions, the admin over the binary
/// protocol (the default region, us-east-1) and over the AWS JSON API in any region.
struct MultiRegionWorld {
    static let primaryRegion = "us-east-1"
    static let replicaRegion = "eu-west-1"
    static let otherRegion = "ap-south-1"
    static let regions = "\(primaryRegion),\(replicaRegion),\(otherRegion)"

    let stack: KMSStack
    let json: AWSJSONTestClient

    static func start(_ extra: [String] = []) async throws -> MultiRegionWorld {
        // kms-cryptod derives SigV4 signing keys only for its own --regions.
        let stack = try await KMSStack.start(
            kmsdArguments: ["--aws-json-listen", "127.0.0.1:0", "--regions", regions] + extra,
            workerArguments: ["--regions", regions])
        let json = AWSJSONTestClient(
            endpoint: try #require(stack.kmsd.awsJSONEndpoint), credentials: stack.adminCredentials)
        return MultiRegionWorld(stack: stack, json: json)
    }

    /// The admin's AWS JSON client in `region`.
    func admin(in region: String) -> AWSJSONTestClient { self.json.with(region: region) }

    func createKey(
        spec: String? = nil, usage: String? = nil, policy: String? = nil, client: KMSClient? = nil
    ) async throws -> KMSKeyMetadata {
        var request = KMSCreateKeyRequest()
        request.multiRegion = true
        if let spec { request.keySpec = KMSKeySpec(awsName: spec)! }
        if let usage { request.keyUsage = KMSKeyUsage(awsName: usage)! }
        if let policy { request.policy = policy }
        return try await (client ?? self.stack.client).call(KMSMethod.createKey, request).keyMetadata
    }

    func replicate(
        _ keyID: String, to region: String, tags: [String: String] = [:], policy: String? = nil,
        client: KMSClient? = nil
    ) async throws -> KMSReplicateKeyResponse {
        var request = KMSReplicateKeyRequest()
        request.keyID = keyID
        request.replicaRegion = region
        request.description_p = "replica in \(region)"
        if let policy { request.policy = policy }
        request.tags = tags.sorted { $0.key < $1.key }.map { pair in
            KMSTag.with {
                $0.tagKey = pair.key
                $0.tagValue = pair.value
            }
        }
        return try await (client ?? self.stack.client).call(KMSMethod.replicateKey, request)
    }

    func updatePrimaryRegion(_ keyID: String, to region: String, client: KMSClient? = nil) async throws {
        var request = KMSUpdatePrimaryRegionRequest()
        request.keyID = keyID
        request.primaryRegion = region
        _ = try await (client ?? self.stack.client).call(KMSMethod.updatePrimaryRegion, request)
    }

    /// One AWS JSON call; the reply's object on success, else its error code as `Failure`.
    @discardableResult
    func call(_ client: AWSJSONTestClient, _ operation: String, _ body: [String: Any]) async throws
        -> Result<[String: Any], Failure>
    {
        let reply = try await client.call(operation, body: try JSONSerialization.data(withJSONObject: body))
        if let code = reply.code { return .failure(Failure(code: code, message: reply.message)) }
        return .success(reply.object ?? [:])
    }

    struct Failure: Error, Equatable {
        var code: String
        var message: String
    }

    func stop() async { await self.stack.stop() }
}

extension Result where Success == [String: Any], Failure == MultiRegionWorld.Failure {
    /// The error code, or nil on success.
    var code: String? {
        if case .failure(let failure) = self { return failure.code }
        return nil
    }

    var object: [String: Any]? { try? self.get() }
}
