import Foundation
import KMSClient
import KMSDomain
import KMSProto
import KMSRPC
import KMSTestSupport
import KMSWorkerProto
import Synchronization
import Testing

@testable import KMSServer

/// Issue 20, points 1.6, 1.7, 1.8 and 1.10: AWS's order of checks, codes and messages, through
/// boto3 against kmsd's AWS JSON endpoint (Tests/aws-clients/fidelity_messages_suite.py), and
/// in-process where a moment inside a request is the point.
@Suite struct FidelityMessagesTests {
    @Test func awsCodesMessagesAndShapesThroughBoto3() async throws {
        // With a principal without any permission: what an unauthorized caller is told.
        let suite = try await AWSClientTests.runOnNewStack(["fidelity_messages_suite.py"], unprivileged: true)[0]
        #expect(suite.status == 0, "\(suite.output)")
    }

    /// GetKeyRotationStatus names OnDemandRotationStartDate while the rotation runs (here: while
    /// kms-cryptod is held generating the new material), and no longer once it is done.
    @Test func theOnDemandRotationStartDateWhileTheRotationRuns() async throws {
        let held = HeldGeneration()
        try await ServiceCore.with(worker: held.wrap) { core in
            let service = core.service
            let arn = try await ServiceCoreTests.createKey(service)
            var status = KMSGetKeyRotationStatusRequest()
            status.keyID = arn
            #expect(
                try await !service.getKeyRotationStatus(status, caller: ServiceCoreTests.caller())
                    .hasOnDemandRotationStartDate)
            held.hold()
            var rotate = KMSRotateKeyOnDemandRequest()
            rotate.keyID = arn
            let before = Date()
            let rotation = Task { try await service.rotateKeyOnDemand(rotate, caller: ServiceCoreTests.caller()) }
            await held.arrival()
            let during = try await service.getKeyRotationStatus(status, caller: ServiceCoreTests.caller())
            held.release()
            _ = try await rotation.value
            #expect(during.hasOnDemandRotationStartDate)
            #expect(abs(during.onDemandRotationStartDate.date.timeIntervalSince(before)) < 60)
            let after = try await service.getKeyRotationStatus(status, caller: ServiceCoreTests.caller())
            #expect(!after.hasOnDemandRotationStartDate)
        }
    }

    /// A malformed ARN is InvalidArnException where AWS's model lists it, and a key not found
    /// where it does not (Encrypt); a bare key id not found is named by its would-be ARN.
    @Test func malformedARNsAndMissingKeys() async throws {
        try await ServiceCore.with { core in
            let service = core.service
            var caller = ServiceCoreTests.caller()
            caller.operation = "DescribeKey"
            var describe = KMSDescribeKeyRequest()
            describe.keyID = "arn:aws:kms:us-east-1:111122223333:key/not-a-uuid"
            await ServiceCoreTests.expect(.invalidArn) { _ = try await service.describeKey(describe, caller: caller) }
            caller.operation = "Encrypt"
            var encrypt = KMSEncryptRequest()
            encrypt.keyID = describe.keyID
            encrypt.plaintext = Data([1])
            await ServiceCoreTests.expect(.notFound) { _ = try await service.encrypt(encrypt, caller: caller) }
            let missing = KeyID(UUID()).description
            describe.keyID = missing
            caller.operation = "DescribeKey"
            do {
                _ = try await service.describeKey(describe, caller: caller)
                Issue.record("a missing key was described")
            } catch let error as KMSError {
                #expect(error.message == "Key 'arn:aws:kms:us-east-1:111122223333:key/\(missing)' does not exist")
            }
        }
    }
}

/// A kms-cryptod that, once told to hold, keeps the next GenerateKeyMaterial call waiting until
/// `release`: the moment inside a rotation that a test looks at.
final class HeldGeneration: CryptoBackend, Sendable {
    private let inner = Mutex<(any CryptoBackend)?>(nil)
    private let holding = Mutex(false)
    private let waiting = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let arrived: AsyncStream<Void>
    private let arrive: AsyncStream<Void>.Continuation

    init() {
        (self.arrived, self.arrive) = AsyncStream<Void>.makeStream()
    }

    func wrap(_ worker: any CryptoBackend) -> any CryptoBackend {
        self.inner.withLock { $0 = worker }
        return self
    }

    func hold() { self.holding.withLock { $0 = true } }

    /// Returns once a GenerateKeyMaterial call is held.
    func arrival() async {
        for await _ in self.arrived { return }
    }

    func release() {
        self.holding.withLock { $0 = false }
        self.waiting.withLock {
            $0?.resume()
            $0 = nil
        }
    }

    func call<Request, Response>(_ method: RPCMethod<Request, Response>, _ request: Request)
        async throws(KMSError) -> Response
    {
        if method.name == WorkerMethod.generateKeyMaterial.name, self.holding.withLock({ $0 }) {
            await withCheckedContinuation { continuation in
                self.waiting.withLock { $0 = continuation }
                self.arrive.yield()
            }
        }
        guard let inner = self.inner.withLock({ $0 }) else { throw KMSError.internalFailure("no worker") }
        return try await inner.call(method, request)
    }
}
