import KMSDomain
import Logging
import PostgresNIO
import ServiceLifecycle

import struct Foundation.UUID

/// Holds one database connection in LISTEN on the change channels the schema's triggers
/// notify, and drops the matching cache entries. On any failure the cache is switched off and
/// emptied until the listener is back, so a missed notification cannot leave a stale key.
public struct ChangeListener: Service {
    let client: PostgresClient
    let cache: KeyCache
    let logger: Logger
    let clock: ServiceClock

    /// A listener that drops `cache`'s entries as the database announces changes.
    public init(client: PostgresClient, cache: KeyCache, logger: Logger, clock: ServiceClock = .system) {
        self.clock = clock
        self.client = client
        self.cache = cache
        self.logger = logger
    }

    /// Listens until a graceful shutdown, reconnecting a second after any failure; caching stays off meanwhile.
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown {
                    try await self.client.withConnection { connection in
                        let (keys, aliases, principals, keyStores) = try await backgroundCall {
                            (
                                try await connection.listen("kms_key_changed"),
                                try await connection.listen("kms_alias_changed"),
                                try await connection.listen("kms_principal_changed"),
                                try await connection.listen("kms_custom_key_store_changed")
                            )
                        }
                        self.cache.setListening(true)
                        self.logger.debug("listening for key, alias, principal and custom key store changes")
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                for try await notification in keys {
                                    // The payload is a uuid column's text: always a key's row id (a
                                    // multi-Region key's in its region, which only the uuid form spells).
                                    guard let uuid = UUID(uuidString: notification.payload) else { continue }
                                    let keyID = KeyID(uuid)
                                    self.cache.invalidateKey(keyID)
                                }
                            }
                            group.addTask {
                                for try await notification in aliases {
                                    self.cache.invalidateAlias(notification.payload)
                                }
                            }
                            group.addTask {
                                for try await notification in principals {
                                    self.cache.invalidatePrincipal(notification.payload)
                                }
                            }
                            group.addTask {
                                for try await notification in keyStores {
                                    guard let id = CustomKeyStoreID(notification.payload) else { continue }
                                    self.cache.invalidateCustomKeyStore(id)
                                }
                            }
                            try await group.next()
                            group.cancelAll()
                        }
                    }
                }
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                self.logger.warning(
                    "change listener lost its connection; caching is off until it is back",
                    metadata: ["error": "\(String(reflecting: error))"])
            }
            self.cache.setListening(false)
            try? await cancelWhenGracefulShutdown { try await self.clock.sleep(for: .seconds(1)) }
        }
        self.cache.setListening(false)
    }
}
