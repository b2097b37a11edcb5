import Foundation
import KMSDomain
import Synchronization

/// The on-demand rotations this kmsd is running, each with its start: GetKeyRotationStatus
/// answers OnDemandRotationStartDate while one is in progress, as AWS does, and drops it once the
/// rotation is done (ListKeyRotations shows it then). Another replica's rotation is not seen:
/// it completes within its own request.
final class OnDemandRotations: Sendable {
    private let started = Mutex<[KeyID: Date]>([:])

    /// Runs `rotation` with `keyID` marked as rotating since `date`.
    func running<T>(_ keyID: KeyID, since date: Date, _ rotation: () async throws(KMSError) -> T)
        async throws(KMSError) -> T
    {
        self.started.withLock { $0[keyID] = date }
        defer { _ = self.started.withLock { $0.removeValue(forKey: keyID) } }
        return try await rotation()
    }

    /// When the on-demand rotation of `keyID` in progress here started; nil when none is.
    func startDate(of keyID: KeyID) -> Date? {
        self.started.withLock { $0[keyID] }
    }
}
