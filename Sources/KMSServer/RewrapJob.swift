import Foundation
import KMSDomain
import KMSStore
import KMSWorkerProto
import Logging
import PostgresNIO
import ServiceLifecycle

/// Root key rotation's second half: re-wraps every stored key material and access key secret
/// under the worker's newest root key, a batch at a time, while traffic continues. The job
/// lives in the database (`kms_rewrap_jobs`): whichever kmsd holds the advisory lock works on
/// it, and a kmsd that crashes mid-way leaves it for the next round of any kmsd. Each blob is
/// replaced only if unchanged since it was read, so nothing races a rotation or a deletion.
/// Blobs under a root key the keyring no longer holds are counted and skipped, never dropped.
public struct RewrapJob: Service {
    static let batchSize = 100

    let store: any RewrapStoring
    let worker: any CryptoBackend
    let interval: Duration
    let logger: Logger
    let clock: ServiceClock

    /// A job that looks every `interval` for a re-wrap job to work on.
    public init(
        client: PostgresClient, worker: any CryptoBackend, interval: Duration, logger: Logger,
        clock: ServiceClock = .system
    ) {
        self.init(
            store: RewrapStore(client: client, logger: logger, lockStatements: .backgroundCalls), worker: worker,
            interval: interval, logger: logger,
            clock: clock)
    }

    /// A job over `store`'s jobs and blobs, which also keeps a second kmsd off a job this one works on.
    public init(
        store: any RewrapStoring, worker: any CryptoBackend, interval: Duration, logger: Logger,
        clock: ServiceClock = .system
    ) {
        self.clock = clock
        self.store = store
        self.worker = worker
        self.interval = interval
        self.logger = logger
    }

    /// Runs rounds until a graceful shutdown; a failed round resumes where it stopped, next round.
    public func run() async throws {
        await Periodic.rounds(
            every: self.interval, clock: self.clock, logger: self.logger,
            failure: "re-wrap round failed; it resumes next round"
        ) {
            try await self.roundOnce()
        }
    }

    func roundOnce() async throws {
        guard let job = try await backgroundCall({ try await self.store.latest() }), job.finishedAt == nil else {
            return
        }
        _ = try await self.store.exclusively { try await self.work(on: job) }
    }

    private func work(on job: RewrapStore.Job) async throws {
        let rootKeys = try await self.worker.call(WorkerMethod.describe, WorkerDescribeRequest()).rootKeyIds.compactMap(
            UUID.init(uuidString:))
        guard let newest = rootKeys.first else { return }
        let usage = try await backgroundCall { try await self.store.usage() }
        let missing = usage.keys.filter { !rootKeys.contains($0) }
        let unavailable = missing.reduce(Int64(0)) { $0 + (usage[$1]?.materials ?? 0) + (usage[$1]?.secrets ?? 0) }
        self.logger.notice(
            "re-wrapping under the newest root key",
            metadata: [
                "job": "\(job.id)", "root_key": "\(newest)", "unavailable": "\(unavailable)",
            ])
        while !Task.isCancelled {
            var done: Int64 = 0
            for row in try await backgroundCall({
                try await self.store.materials(notUnder: newest, skipping: missing, limit: Self.batchSize)
            }) {
                var request = WorkerRewrapKeyMaterialRequest()
                request.key.keyID = row.keyID.description
                request.key.keyArn = KeyRecord.materialARN(keyARN: row.keyARN, keyID: row.keyID)
                request.key.material.materialID = Data(row.materialID.bytes)
                request.key.material.wrapped = Data(row.wrapped)
                let answer = try await self.worker.call(WorkerMethod.rewrapKeyMaterial, request)
                guard let root = UUID(uuidString: answer.rootKeyID) else { continue }
                if try await backgroundCall({
                    try await self.store.replaceMaterial(row, wrapped: Array(answer.wrapped), rootKeyID: root)
                }) {
                    done += 1
                }
            }
            for row in try await backgroundCall({
                try await self.store.secrets(notUnder: newest, skipping: missing, limit: Self.batchSize)
            }) {
                var request = WorkerRewrapAccessKeySecretRequest()
                request.accessKeyID = row.accessKeyID
                request.principalArn = row.principalARN
                request.wrappedSecret = Data(row.wrapped)
                let answer = try await self.worker.call(WorkerMethod.rewrapAccessKeySecret, request)
                guard let root = UUID(uuidString: answer.rootKeyID) else { continue }
                if try await backgroundCall({
                    try await self.store.replaceSecret(row, wrapped: Array(answer.wrappedSecret), rootKeyID: root)
                }) {
                    done += 1
                }
            }
            for row in try await backgroundCall({
                try await self.store.tokenPINs(notUnder: newest, skipping: missing, limit: Self.batchSize)
            }) {
                var request = WorkerRewrapTokenPinRequest()
                request.customKeyStoreID = row.customKeyStoreID
                request.wrappedPin = Data(row.wrapped)
                let answer = try await self.worker.call(WorkerMethod.rewrapTokenPin, request)
                guard let root = UUID(uuidString: answer.rootKeyID) else { continue }
                if try await backgroundCall({
                    try await self.store.replaceTokenPIN(row, wrapped: Array(answer.wrappedPin), rootKeyID: root)
                }) {
                    done += 1
                }
            }
            let remaining = try await backgroundCall {
                try await self.store.materials(notUnder: newest, skipping: missing, limit: 1).count
                    + self.store.secrets(notUnder: newest, skipping: missing, limit: 1).count
                    + self.store.tokenPINs(notUnder: newest, skipping: missing, limit: 1).count
            }
            let finished = remaining == 0 ? self.clock.wallNow : nil
            try await backgroundCall { [done] in
                try await self.store.progress(
                    job: job.id, rewrapped: done, unavailable: unavailable, finished: finished)
            }
            if finished != nil {
                self.logger.notice("re-wrap finished", metadata: ["job": "\(job.id)", "unavailable": "\(unavailable)"])
                return
            }
        }
    }
}
