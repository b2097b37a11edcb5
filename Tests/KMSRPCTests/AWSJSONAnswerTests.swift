import Foundation
import KMSRPC
import Testing

/// The statuses and bodies kmsd and kms-agent answer AWS JSON errors with.
struct AWSJSONAnswerTests {
    @Test func statusesAreAWSs() {
        #expect(AWSJSONAnswer.status(forCode: "DryRunOperationException").code == 412)
        #expect(AWSJSONAnswer.status(forCode: "KMSInternalException").code == 500)
        #expect(AWSJSONAnswer.status(forCode: "KeyUnavailableException").code == 500)
        #expect(AWSJSONAnswer.status(forCode: "DependencyTimeoutException").code == 503)
        #expect(AWSJSONAnswer.status(forCode: "MissingAuthenticationTokenException").code == 403)
        #expect(AWSJSONAnswer.status(forCode: "NotFoundException").code == 400)
        #expect(AWSJSONAnswer.status(forCode: "ValidationException").code == 400)
    }

    @Test func badCiphertextsSignaturesAndMacsCarryNoMessage() throws {
        let answer = AWSJSONAnswer.error(
            requestID: "r", status: .badRequest, code: "InvalidCiphertextException", message: "detail")
        let body = try #require(try JSONSerialization.jsonObject(with: answer.body) as? [String: String])
        #expect(body == ["__type": "InvalidCiphertextException"])
        let other = AWSJSONAnswer.error(requestID: "r", status: .badRequest, code: "NotFoundException", message: "m")
        #expect(
            try JSONSerialization.jsonObject(with: other.body) as? [String: String]
                == ["__type": "NotFoundException", "message": "m"])
    }
}
