import KMSClient
import KMSRPC
import Testing

/// What a caller of KMSClient sees of a failure kmsd answered or the link raised.
@Suite struct KMSClientErrorTests {
    @Test func anAnswerKeepsItsCodeMessageAndRetryability() {
        let denied = KMSClientError(RPCError(code: "AccessDeniedException", message: "User: x is not authorized"))
        #expect(denied.code == "AccessDeniedException" && !denied.retryable)
        #expect(denied.message == "User: x is not authorized")
        let closed = KMSClientError(RPCError.connectionClosed())
        #expect(closed.code == "ConnectionClosedException" && closed.retryable)
        #expect(closed.message == "the connection closed before the response arrived")
        #expect(closed.description == "ConnectionClosedException: the connection closed before the response arrived")
    }
}
