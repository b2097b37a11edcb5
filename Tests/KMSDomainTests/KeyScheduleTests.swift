import Foundation
import KMSDomain
import Testing

/// Wall-clock steps forward and back against the decisions wall time makes: automatic
/// rotation, the deletion window, imported material's ValidTo. The scheduler is simulated as
/// kmsd runs it (a round looks for due keys, rotates each, stores the next date), one round at
/// each wall time a stepped clock shows.
@Suite struct KeyScheduleTests {
    static let day: TimeInterval = 86_400
    static let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    static func key(period: Int = 365, next: Date? = nil) -> KeyRecord {
        KeyRecord(
            keyID: KeyID.random(), arn: "arn", account: "111122223333", region: "us-east-1", description: "",
            state: .enabled,
            usage: .encryptDecrypt, spec: .symmetricDefault, origin: .awsKMS, manager: .customer,
            creationDate: Self.start,
            deletionDate: nil, pendingWindowInDays: nil, policy: "", currentMaterialID: nil, version: 1,
            rotationPeriodInDays: period,
            nextRotationDate: next ?? Self.start.addingTimeInterval(Double(period) * Self.day)
        )
    }

    /// One scheduler round per wall time: the dates the key rotated at.
    static func rounds(_ key: inout KeyRecord, at wallTimes: [Date]) -> [Date] {
        var rotations: [Date] = []
        for now in wallTimes where KeySchedule.isRotationDue(key, at: now) {
            rotations.append(now)
            key.nextRotationDate = KeySchedule.nextRotation(
                afterAutomaticRotationAt: now, periodInDays: key.rotationPeriodInDays!)
        }
        return rotations
    }

    @Test func aForwardStepOfSeveralPeriodsRotatesOnceAndTheStepBackDoesNotRotateAgain() {
        var key = Self.key(period: 90)
        let ahead = Self.start.addingTimeInterval(3 * 365 * Self.day)  // an operator's typo: three years ahead
        let rotations = Self.rounds(
            &key,
            at: [
                Self.start.addingTimeInterval(Self.day), ahead, ahead.addingTimeInterval(60),
                ahead.addingTimeInterval(120),
                Self.start.addingTimeInterval(Self.day + 180),  // corrected
                Self.start.addingTimeInterval(89 * Self.day),
            ])
        #expect(rotations == [ahead])
        #expect(key.nextRotationDate == ahead.addingTimeInterval(90 * Self.day))
    }

    @Test func aBackwardStepAfterARotationDoesNotRotateTheKeyTwice() {
        var key = Self.key(period: 90)
        let due = Self.start.addingTimeInterval(90 * Self.day)
        let rotations = Self.rounds(
            &key,
            at: [
                due, due.addingTimeInterval(60),
                // Stepped back an hour, then a month.
                due.addingTimeInterval(-3600), due.addingTimeInterval(-30 * Self.day),
                due.addingTimeInterval(60),
            ])
        #expect(rotations == [due])
    }

    @Test func aBackwardStepBeforeTheDueDateDelaysTheRotationAndItStillHappensOnce() {
        var key = Self.key(period: 90)
        let due = Self.start.addingTimeInterval(90 * Self.day)
        let rotations = Self.rounds(
            &key,
            at: [
                due.addingTimeInterval(-60), due.addingTimeInterval(-3600 - 60), due.addingTimeInterval(-1),
                due, due.addingTimeInterval(1),
            ])
        #expect(rotations == [due])
    }

    @Test func aDisabledKeyWaitsAndRotatesOnceWhenEnabledPastItsDate() {
        var key = Self.key(period: 90)
        key.state = .disabled
        let late = Self.start.addingTimeInterval(200 * Self.day)
        #expect(Self.rounds(&key, at: [late]).isEmpty)
        key.state = .enabled
        #expect(Self.rounds(&key, at: [late, late.addingTimeInterval(60)]) == [late])
    }

    @Test func enablingNeverSchedulesInThePastEvenWithTheClockSteppedBack() {
        var key = Self.key(period: 365)
        let lastRotation = Self.start.addingTimeInterval(100 * Self.day)
        // Period shortened to 90 days, long after the last rotation: due now, not in the past.
        let now = Self.start.addingTimeInterval(400 * Self.day)
        #expect(KeySchedule.nextRotation(enabling: key, periodInDays: 90, lastRotation: lastRotation, at: now) == now)
        // The clock stepped back before the last rotation: still a period after it.
        let back = lastRotation.addingTimeInterval(-10 * Self.day)
        #expect(
            KeySchedule.nextRotation(enabling: key, periodInDays: 90, lastRotation: lastRotation, at: back)
                == lastRotation.addingTimeInterval(90 * Self.day))
        key.rotationPeriodInDays = nil
        #expect(
            KeySchedule.nextRotation(enabling: key, periodInDays: 90, lastRotation: lastRotation, at: back)
                == back.addingTimeInterval(90 * Self.day))
    }

    @Test func theDeletionWindowIsNeverCutShortByOneClockSteppedAhead() {
        let scheduled = Self.start
        let deletion = KeySchedule.deletionDate(scheduledAt: scheduled.addingTimeInterval(0.9), windowDays: 7)
        #expect(deletion == scheduled.addingTimeInterval(7 * Self.day))
        let database = scheduled.addingTimeInterval(Self.day)
        // kmsd's clock jumped 8 days ahead: PostgreSQL's still says day 1, so nothing is deleted.
        #expect(
            KeySchedule.destructionCutoff(service: database.addingTimeInterval(8 * Self.day), database: database)
                < deletion)
        // PostgreSQL's clock ahead instead: the same.
        #expect(
            KeySchedule.destructionCutoff(service: database, database: database.addingTimeInterval(8 * Self.day))
                < deletion)
        // A step back on either only delays it.
        #expect(
            KeySchedule.destructionCutoff(service: deletion.addingTimeInterval(-3600), database: deletion) < deletion)
        // Both past the window: due.
        #expect(KeySchedule.destructionCutoff(service: deletion, database: deletion.addingTimeInterval(1)) >= deletion)
    }

    @Test func importedMaterialIsRefusedByWallTimeAndUsableAgainWhenTheClockComesBack() {
        var key = Self.key()
        key.validTo = Self.start.addingTimeInterval(Self.day)
        #expect(!KeySchedule.materialExpired(key, at: Self.start))
        #expect(KeySchedule.materialExpired(key, at: Self.start.addingTimeInterval(2 * Self.day)))  // stepped ahead
        #expect(!KeySchedule.materialExpired(key, at: Self.start.addingTimeInterval(60)))  // stepped back
        #expect(KeySchedule.materialExpired(key, at: key.validTo!))
        key.validTo = nil
        #expect(!KeySchedule.materialExpired(key, at: .distantFuture))
    }
}
