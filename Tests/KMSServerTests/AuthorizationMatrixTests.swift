import Foundation
import KMSProto
import Testing

/// Starts one MatrixWorld for the whole suite and stops it after the last test: the matrix and
/// the focused tests share one kmsd stack and one set of principals.
struct MatrixWorldTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    // @concurrent: swift-testing's protocol is not compiled with this package's
    // NonisolatedNonsendingByDefault, so its requirement runs on the generic executor.
    @concurrent func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @concurrent @Sendable () async throws -> Void
    ) async throws {
        let world = try await MatrixWorld.start()
        do {
            try await MatrixWorld.$current.withValue(world) { try await function() }
        } catch {
            await world.stop()
            throw error
        }
        await world.stop()
    }
}

/// Expects `outcome` to have come back as `code`; a mismatch shows what came instead, with its
/// message.
func expectCode(
    _ outcome: MatrixOutcome, _ code: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    expectCode(outcome, oneOf: [code], what, sourceLocation: sourceLocation)
}

func expectCode(
    _ outcome: MatrixOutcome, oneOf codes: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(
        codes.contains(outcome.code),
        "\(what): expected \(codes.joined(separator: " or ")), got \(outcome.code) \(outcome.message)",
        sourceLocation: sourceLocation)
}

extension Trait where Self == MatrixWorldTrait {
    static var matrixWorld: Self { MatrixWorldTrait() }
}

/// The negative matrix of issue 15: every operation × (allowed by the key policy, by an
/// identity policy, by a grant; explicitly denied; another account without and with key policy
/// access; no or bad credentials) × key state × both protocols, each cell asserting AWS's
/// answer, plus the ways of naming a key that must find nothing. The table is `Matrix.rows`
/// (AuthorizationMatrix+Table.swift); a failing cell reads
/// "operation × principal × state × protocol [reference]: expected X, got Y (message)", and
/// KMS_MATRIX_REPORT=<file> writes the failing cells there, in the table's order.
///
/// The focused tests in the extensions (aliases, grants, AWS managed keys) cover what one
/// request per cell cannot: sequences, and what was written or not.
@Suite(.matrixWorld) struct AuthorizationMatrixTests {
    static var world: MatrixWorld {
        get throws { try requireValue(MatrixWorld.current, "the suite's MatrixWorld is not running") }
    }

    @Test func theTableCoversEveryOperation() {
        #expect(Set(Matrix.rows.map(\.operation)) == Set(KMSMethod.allNames))
        #expect(Matrix.rows.count == KMSMethod.allNames.count)
    }

    @Test func everyOperationByEveryPrincipalInEveryStateThroughBothProtocols() async throws {
        let world = try Self.world
        if let refusal = world.otherRegionRefusal {
            Issue.record(
                """
                The cells of a caller signed for eu-west-1 did not run: kmsd refused the region (\(refusal)). Start \
                kms-cryptod with --regions us-east-1,eu-west-1.
                """,
                severity: .warning)
        }
        let groups = MatrixWorld.groups(Matrix.rows, otherRegion: world.otherRegionRefusal == nil)
        let started = ContinuousClock.now
        let (failures, setupErrors) = await world.run(groups, concurrency: 16)
        let elapsed = ContinuousClock.now - started
        let cells = groups.reduce(0) { $0 + $1.cells.count }
        print("authorization matrix: \(cells) cells in \(groups.count) groups, \(failures.count) failed, \(elapsed)")

        for error in setupErrors { Issue.record(Comment(rawValue: error)) }
        let sorted = MatrixFailure.ordered(failures)
        for failure in sorted { Issue.record(Comment(rawValue: failure.description)) }
        // The console may interleave thousands of lines with kmsd's; the whole list, in order,
        // goes to a file when asked for.
        if let path = ProcessInfo.processInfo.environment["KMS_MATRIX_REPORT"] {
            try (setupErrors + sorted.map(\.description)).joined(separator: "\n").write(
                toFile: path, atomically: true, encoding: .utf8)
        }
    }
}
