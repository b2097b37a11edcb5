import KMSDomain
import KMSRPC
import Testing

@testable import KMSServer

/// What a caller hears of a failed kms-cryptod call: the worker's AWS answers as they are, any
/// failure of the link as a retryable DependencyTimeoutException. No worker is started.
@Suite struct WorkerPoolErrorMappingTests {
    @Test func theWorkersAnswersPassThrough() {
        let answer = RPCError(code: "InvalidCiphertextException", message: "the ciphertext is not valid")
        #expect(WorkerPool.map(answer) == KMSError(.invalidCiphertext, "the ciphertext is not valid"))
        let busy = RPCError(code: "ThrottlingException", message: "busy", retryable: true)
        #expect(WorkerPool.map(busy) == KMSError(.throttling, "busy", retryable: true))
    }

    @Test func linkFailuresAreRetryableDependencyTimeouts() {
        #expect(
            WorkerPool.map(.timeout(method: "Encrypt"))
                == KMSError(
                    .dependencyTimeout, "the crypto worker did not answer in time; retry later", retryable: true))
        // SerializationException is an AWS name too, but from the worker's link it means garbage.
        for garbage in [RPCError.serialization("bad"), .unknownOperation("X"), .frameTooLarge(length: 9, maximum: 1)] {
            #expect(
                WorkerPool.map(garbage)
                    == KMSError(
                        .dependencyTimeout, "the crypto worker's answer was not valid; retry later", retryable: true))
        }
        for lost in [RPCError.connectionClosed(), RPCError(code: "SomethingNewException", message: "m")] {
            #expect(
                WorkerPool.map(lost)
                    == KMSError(.dependencyTimeout, "the crypto worker did not answer; retry later", retryable: true))
        }
    }
}
