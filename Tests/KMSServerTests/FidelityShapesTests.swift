import Foundation
import KMSTestSupport
import Testing

/// Issue 20 §1 (points 1 to 5 and 9) through the AWS JSON API with boto3: which algorithm lists
/// and material ids a key's metadata carries, enum and tag constraints as ValidationException in
/// AWS's words, grants naming their key by ARN and paging exactly under filters, alias name
/// rules, and AWS's predefined aliases in ListAliases (Tests/aws-clients/fidelity_shapes_suite.py).
@Suite struct FidelityShapesTests {
    @Test func shapesCodesAndMessagesAsAWSAnswersThem() async throws {
        let suite = try await AWSClientTests.runOnNewStack(["fidelity_shapes_suite.py"])[0]
        #expect(suite.status == 0, "\(suite.output)")
    }
}
