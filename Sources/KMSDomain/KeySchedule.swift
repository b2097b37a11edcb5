import struct Foundation.Date

/// The dates of a key's life that wall time decides (they are stored, shown to callers and
/// compared with the wall clock): automatic rotation, the deletion window, imported material's
/// ValidTo. Pure: the caller passes the wall clock's now, so tests step it forward and back.
public enum KeySchedule {
    static let day: Double = 86_400

    /// Automatic rotation is due at `now`: the key is enabled and its next date has passed.
    /// (Disabled or pending deletion, it waits; enabled again past its date, it rotates at once.)
    public static func isRotationDue(_ key: KeyRecord, at now: Date) -> Bool {
        guard key.state == .enabled, let next = key.nextRotationDate else { return false }
        return next <= now
    }

    /// The next automatic rotation after one made at `now`: a period from now, not from the date
    /// that was due. A wall clock that jumped several periods ahead rotates the key once, not
    /// once per period it skipped; one stepped back afterwards does not make it rotate again
    /// (the next date is a period after the rotation, whatever the clock says next).
    public static func nextRotation(afterAutomaticRotationAt now: Date, periodInDays: Int) -> Date {
        now.addingTimeInterval(Double(periodInDays) * Self.day)
    }

    /// Rotation enabled at `now`, or its period changed: a period after the last rotation (or
    /// the key's creation), never in the past; when it was off, a period from now.
    public static func nextRotation(enabling key: KeyRecord, periodInDays: Int, lastRotation: Date?, at now: Date)
        -> Date
    {
        let from = key.rotationPeriodInDays == nil ? now : (lastRotation ?? key.creationDate)
        return max(now, from.addingTimeInterval(Double(periodInDays) * Self.day))
    }

    /// The deletion date of a deletion scheduled at `now` with a window of `days` (to the second).
    public static func deletionDate(scheduledAt now: Date, windowDays days: Int) -> Date {
        Date(timeIntervalSince1970: (now.timeIntervalSince1970 + Double(days) * Self.day).rounded(.down))
    }

    /// Imported material past its ValidTo at `now`: requests are refused (judged by wall time,
    /// as AWS does).
    public static func materialExpired(_ key: KeyRecord, at now: Date) -> Bool {
        key.validTo.map { $0 <= now } ?? false
    }

    /// The instant up to which deletion windows and ValidTo count as passed for destroying
    /// anything (the reaper): the earlier of kmsd's clock and the database's. A wall clock
    /// stepped ahead on one host alone cannot delete a key, or its material, before its time;
    /// a step back on either only delays it.
    public static func destructionCutoff(service: Date, database: Date) -> Date {
        min(service, database)
    }
}
