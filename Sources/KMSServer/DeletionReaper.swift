import Foundation
import KMSDomain
import KMSStore
import Logging
import ServiceLifecycle

/// Deletes keys whose deletion window has passed, with their material and aliases, and imported
/// key material past its ValidTo (KeyStoring.reapDue). One kmsd at a time does it (the others
/// skip the round). After this, ciphertexts under those keys can never be decrypted again.
public struct DeletionReaper: Service {
    let keys: any KeyStoring
    let interval: Duration
    let logger: Logger
    /// Wall time decides which deletion dates and ValidTo have passed; monotonic time spaces the rounds.
    let clock: ServiceClock
    /// Starts the deletion window of multi-Region primaries whose replicas are gone.
    let multiRegionKeys: (any MultiRegionKeyStoring)?
    /// Destroys deleted keys' token keys (AWS_CLOUDHSM stores).
    let tokenKeys: TokenKeyDestroyer?

    /// A reaper over `keys` that runs a round every `interval`.
    public init(
        keys: any KeyStoring, interval: Duration, logger: Logger, clock: ServiceClock = .system,
        multiRegionKeys: (any MultiRegionKeyStoring)? = nil, tokenKeys: TokenKeyDestroyer? = nil
    ) {
        self.keys = keys
        self.interval = interval
        self.logger = logger
        self.clock = clock
        self.multiRegionKeys = multiRegionKeys
        self.tokenKeys = tokenKeys
    }

    /// Runs rounds until a graceful shutdown; a failed round is logged and the next tries again.
    public func run() async throws {
        await Periodic.rounds(
            every: self.interval, clock: self.clock, logger: self.logger, failure: "deletion reaper round failed"
        ) { try await self.reapOnce() }
    }

    /// One round: returns the ids of the keys deleted.
    @discardableResult
    public func reapOnce() async throws -> [KeyID] {
        let serviceNow = self.clock.wallNow
        let waited = try await backgroundCall {
            try await self.multiRegionKeys?.startReplicaWaitedDeletions(now: serviceNow) ?? []
        }
        for arn in waited {
            self.logger.notice(
                "the replicas of a multi-Region primary are deleted: its deletion window starts",
                metadata: ["key_arn": "\(arn)"])
        }
        let round = try await backgroundCall { try await self.keys.reapDue(serviceNow: serviceNow) }
        guard round.held else { return [] }
        if round.cutoff < serviceNow.addingTimeInterval(-60) {
            self.logger.warning(
                "kmsd's clock is ahead of PostgreSQL's: keys and key material are deleted by PostgreSQL's",
                metadata: ["kmsd": "\(serviceNow)", "postgresql": "\(round.databaseNow)"])
        }
        for (_, arn) in round.deletedKeys {
            self.logger.notice("deleted key after its deletion window", metadata: ["key_arn": "\(arn)"])
        }
        for arn in round.expiredMaterial {
            self.logger.notice("deleted imported key material at its ValidTo", metadata: ["key_arn": "\(arn)"])
        }
        // After the commit, and best effort: a key that is gone stays gone, and a token key that
        // cannot be destroyed now is logged as left in its token (as AWS leaves orphaned key
        // material in a cluster it cannot reach).
        if !round.deletedTokenKeys.isEmpty {
            if let tokenKeys = self.tokenKeys {
                await tokenKeys.destroy(round.deletedTokenKeys)
            } else {
                for key in round.deletedTokenKeys {
                    TokenKeyDestroyer.logLeft(key, reason: "no token access", self.logger)
                }
            }
        }
        return round.deletedKeys.map(\.keyID)
    }
}
