import Foundation
import KMSCrypto
import KMSDomain
import KMSPolicy
import KMSSigV4
import KMSStore
import KMSTestSupport
import Testing

@testable import KMSServer

/// The service's own reading of the wall clock, stepped forward and back with a manual clock:
/// SigV4's skew is judged against wall time (as AWS does), imported material's ValidTo too,
/// usage is counted in the hour the wall clock shows, while the monotonic side (cache
/// lifetimes, rounds) ignores the step (see TimedStateTests).
@Suite struct ClockStepTests {
    static func clocks() -> (ManualClock, ServiceClock) {
        let manual = ManualClock()
        return (manual, ServiceClock(manual, wall: { manual.wallNow }))
    }

    @Test func sigV4SkewIsJudgedAgainstTheWallClockStepsIncluded() throws {
        let (manual, clock) = Self.clocks()
        let signed = manual.wallNow
        #expect(throws: Never.self) { try SigV4.checkClockSkew(requestDate: signed, now: clock.wallNow) }
        manual.stepWall(by: 16 * 60)
        let ahead = #expect(throws: KMSError.self) { try SigV4.checkClockSkew(requestDate: signed, now: clock.wallNow) }
        #expect(ahead?.message.contains("Signature expired") == true)
        manual.stepWall(by: -32 * 60)
        let behind = #expect(throws: KMSError.self) {
            try SigV4.checkClockSkew(requestDate: signed, now: clock.wallNow)
        }
        #expect(behind?.message.contains("not yet current") == true)
        // Monotonic time alone does not matter: the request is as old as the wall clock says.
        manual.stepWall(by: 16 * 60)
        manual.advance(by: .seconds(14 * 60))
        #expect(throws: Never.self) { try SigV4.checkClockSkew(requestDate: signed, now: clock.wallNow) }
    }

    @Test func importedMaterialIsRefusedWhileTheWallClockIsPastItsValidTo() throws {
        let (manual, clock) = Self.clocks()
        let key = KeyRecord(
            keyID: ServiceMetricsTests.k, arn: "arn:aws:kms:us-east-1:111122223333:key/k", account: "111122223333",
            region: "us-east-1",
            description: "", state: .enabled, usage: .encryptDecrypt, spec: .symmetricDefault, origin: .external,
            manager: .customer,
            creationDate: manual.wallNow, deletionDate: nil, pendingWindowInDays: nil, policy: "",
            currentMaterialID: nil, version: 1,
            validTo: manual.wallNow.addingTimeInterval(3600), expirationModel: .keyMaterialExpires
        )
        #expect(throws: Never.self) { try Validation.usable(key, now: clock.wallNow) }
        manual.stepWall(by: 7200)
        #expect(throws: KMSError.self) { try Validation.usable(key, now: clock.wallNow) }
        manual.stepWall(by: -7200)
        #expect(throws: Never.self) { try Validation.usable(key, now: clock.wallNow) }
    }

    @Test func usageAndLastUseTakeTheirDatesFromTheInjectedWallClock() async {
        let (manual, clock) = Self.clocks()
        let counter = UsageCounter(interval: .seconds(10), clock: clock, logger: BackgroundJobTests.logger) { _, _ in }
        counter.count(account: "111122223333", keyARN: "arn:k", operation: "Encrypt", failed: false)
        manual.stepWall(by: -3600)
        counter.count(account: "111122223333", keyARN: "arn:k", operation: "Encrypt", failed: false)
        let hours = Set(counter.unwritten.keys.map(\.hour))
        #expect(hours == [UsageTally.hour(of: manual.wallNow), UsageTally.hour(of: manual.wallNow + 3600)])
        let tracker = LastUsageTracker(interval: .seconds(10), clock: clock, logger: BackgroundJobTests.logger) { _ in }
        tracker.record(keyID: ServiceMetricsTests.k, operation: "Encrypt", requestID: "r1")
        #expect(tracker.latest(keyID: ServiceMetricsTests.k)?.date == manual.wallNow)
    }

    @Test func awsCurrentTimeInAPolicyIsTheInjectedWallClock() throws {
        let (manual, clock) = Self.clocks()
        let policy = try PolicyDocument.parse(
            """
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", \
            "Resource": "*",
              "Condition": {"DateLessThan": {"aws:CurrentTime": "2026-01-02T00:00:00Z"}}}]}
            """, kind: .resource)
        let caller = Caller(
            account: "111122223333", region: "us-east-1", principalARN: "arn:aws:iam::111122223333:user/u")
        func decision() -> PolicyDecision {
            policy.evaluate(
                caller.requestContext(
                    action: "Encrypt", key: nil, encryptionContext: nil, conditions: [:], policiesHaveConditions: true,
                    now: clock.wallNow
                ))
        }
        #expect(decision() == .allow)
        manual.stepWall(by: 2 * 86_400)
        #expect(decision() == .notApplicable)
        manual.stepWall(by: -2 * 86_400)
        #expect(decision() == .allow)
    }
}
