import KMSDomain
import KMSRPC
import Testing

/// The one mapping from a failure to what a peer hears, on every server.
@Suite struct RPCErrorAnsweringTests {
    @Test func aKMSErrorIsAnsweredWithItsAWSNameMessageAndRetryability() {
        let answer = RPCError(
            answering: KMSError(.dependencyTimeout, "the crypto worker is unavailable; retry later", retryable: true))
        #expect(answer.code == "DependencyTimeoutException")
        #expect(answer.message == "the crypto worker is unavailable; retry later")
        #expect(answer.retryable)
        let denied = RPCError(answering: KMSError(.accessDenied, "User: x is not authorized"))
        #expect(denied.code == "AccessDeniedException" && !denied.retryable)
    }

    @Test func anRPCErrorPassesAsItIs() {
        let error = RPCError.serialization("bad payload")
        #expect(RPCError(answering: error) == error)
    }

    @Test func anAnsweredKMSErrorComesBackAsItWas() {
        for code in KMSError.Code.allCases {
            for retryable in [false, true] {
                let error = KMSError(code, "message of \(code.rawValue)", retryable: retryable)
                #expect(KMSError(answered: RPCError(answering: error)) == error)
            }
        }
        // The link's own codes are no AWS exception: the caller decides what they become.
        #expect(KMSError(answered: .timeout(method: "Encrypt")) == nil)
        #expect(KMSError(answered: .connectionClosed()) == nil)
        #expect(KMSError(answered: RPCError(code: "SomethingNewException", message: "m")) == nil)
    }

    @Test func anythingElseSaysNothingOfItself() {
        struct Leaky: Error, CustomStringConvertible { var description: String { "password=hunter2" } }
        let answer = RPCError(answering: Leaky())
        #expect(answer.code == "KMSInternalException")
        #expect(!answer.message.contains("hunter2"))
        #expect(RPCHandlerTable.defaultErrorMapping(Leaky()) == answer)
    }
}
