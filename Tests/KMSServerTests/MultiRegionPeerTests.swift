import Crypto
import Foundation
import KMSClient
import KMSCrypto
import KMSCryptoWorker
import KMSDomain
import KMSProto
import KMSTestSupport
import PostgresNIO
import Testing

/// Issue 23, across deployments: two PostgreSQL clusters on this machine, two kmsd and two
/// kms-cryptod with their own root keys. A multi-Region key of region A is replicated to B
/// through PostgreSQL's logical replication, its material sealed for B's kms-cryptod and
/// re-wrapped there under B's root key; ciphertexts and MACs cross both ways, a rotation in A
/// reaches B, and rows tampered with in B's tables are refused and never become keys. What each
/// side tells the other about its keys (a deletion, the primary's rotation schedule) arrives the
/// same way.
@Suite struct MultiRegionPeerTests {
    typealias Peers = PeerDeployments

    @Test func aKeyReplicatedToAnotherDeploymentWorksThereUnderItsOwnRootKey() async throws {
        let peers = PeerDeployments()
        do {
            try await peers.start()
            try await peers.connect()
            try await Self.replicateUseAndRotate(peers)
        } catch {
            await peers.stop()
            // PostgresNIO's description hides the server's message on purpose; a test wants it.
            Issue.record("\(String(reflecting: error))")
            throw error
        }
        await peers.stop()
    }

    static func replicateUseAndRotate(_ peers: PeerDeployments) async throws {
        let (a, b) = (peers.clients[0], peers.clients[1])
        var create = KMSCreateKeyRequest()
        create.multiRegion = true
        let key = try await a.call(KMSMethod.createKey, create).keyMetadata

        // A region nobody serves: what AWS answers for a region it does not offer.
        var nowhere = KMSReplicateKeyRequest()
        nowhere.keyID = key.keyID
        nowhere.replicaRegion = "ap-southeast-2"
        #expect(await code { _ = try await a.call(KMSMethod.replicateKey, nowhere) } == "UnsupportedOperationException")
        // Imported material is replicated only within a deployment (each related key imports it).
        var external = create
        external.origin = .external
        var importedKey = KMSReplicateKeyRequest()
        importedKey.keyID = try await a.call(KMSMethod.createKey, external).keyMetadata.keyID
        importedKey.replicaRegion = Peers.regionB
        #expect(
            await code { _ = try await a.call(KMSMethod.replicateKey, importedKey) } == "UnsupportedOperationException")

        var replicate = KMSReplicateKeyRequest()
        replicate.keyID = key.keyID
        replicate.replicaRegion = Peers.regionB
        replicate.description_p = "replica in B"
        replicate.tags = [
            KMSTag.with {
                $0.tagKey = "team"
                $0.tagValue = "eu"
            }
        ]
        let replicated = try await a.call(KMSMethod.replicateKey, replicate)
        let replicaARN = key.arn.replacingOccurrences(of: ":\(Peers.regionA):", with: ":\(Peers.regionB):")
        #expect(replicated.replicaKeyMetadata.arn == replicaARN)
        #expect(replicated.replicaKeyMetadata.keyState == .creating)
        #expect(await code { _ = try await a.call(KMSMethod.replicateKey, replicate) } == "AlreadyExistsException")
        let described = try await a.describe(key.keyID)
        #expect(described.multiRegionConfiguration.replicaKeys.map(\.arn) == [replicaARN])

        let replica = try await peers.eventually("the replica in B") { () async throws -> KMSKeyMetadata? in
            let metadata = try await b.describe(key.keyID)
            return metadata.keyState == .enabled ? metadata : nil
        }
        #expect(replica.arn == replicaARN && replica.description_p == "replica in B")
        #expect(replica.multiRegionConfiguration.multiRegionKeyType == .replica)
        #expect(replica.multiRegionConfiguration.primaryKey.region == Peers.regionA)
        #expect(replica.multiRegionConfiguration.replicaKeys.map(\.region) == [Peers.regionB])
        var status = KMSGetKeyRotationStatusRequest()
        status.keyID = key.keyID
        #expect(try await b.call(KMSMethod.getKeyRotationStatus, status).keyRotationEnabled == false)
        try await Self.checkTheReplicaCreationIsAudited(peers, replicaARN: replicaARN)
        try await Self.checkTheRotationScheduleReachesTheReplica(peers, keyID: key.keyID)

        // Ciphertexts cross both ways.
        let fromA = try await a.encrypt(key.keyID, [1, 2, 3], context: ["c": "1"])
        #expect(try await b.decrypt(fromA, context: ["c": "1"]).plaintext == Data([1, 2, 3]))
        let fromB = try await b.encrypt(key.keyID, [4])
        #expect(try await a.decrypt(fromB).plaintext == Data([4]))

        // A rotation in A reaches B.
        var rotate = KMSRotateKeyOnDemandRequest()
        rotate.keyID = key.keyID
        _ = try await a.call(KMSMethod.rotateKeyOnDemand, rotate)
        let rotated = try await a.encrypt(key.keyID, [5])
        let opened = try await peers.eventually("the rotation in B") { try await b.decrypt(rotated).plaintext }
        #expect(opened == Data([5]))
        let current = try await a.describe(key.keyID).currentKeyMaterialID
        _ = try await peers.eventually("B's current version") { () async throws -> Bool? in
            try await b.describe(key.keyID).currentKeyMaterialID == current ? true : nil
        }

        // An HMAC key: a MAC made in A verifies in B.
        var hmacKey = KMSCreateKeyRequest()
        hmacKey.multiRegion = true
        hmacKey.keySpec = .hmac256
        hmacKey.keyUsage = .generateVerifyMac
        let hmac = try await a.call(KMSMethod.createKey, hmacKey).keyMetadata
        var replicateHMAC = KMSReplicateKeyRequest()
        replicateHMAC.keyID = hmac.keyID
        replicateHMAC.replicaRegion = Peers.regionB
        _ = try await a.call(KMSMethod.replicateKey, replicateHMAC)
        var generate = KMSGenerateMacRequest()
        generate.keyID = hmac.keyID
        generate.message = Data("m".utf8)
        generate.macAlgorithm = .hmacSha256
        let mac = try await a.call(KMSMethod.generateMac, generate).mac
        var verify = KMSVerifyMacRequest()
        verify.keyID = hmac.keyID
        verify.message = Data("m".utf8)
        verify.macAlgorithm = .hmacSha256
        verify.mac = mac
        #expect(
            try await peers.eventually("the HMAC replica in B") { try await b.call(KMSMethod.verifyMac, verify) }
                .macValid)

        // The other way: a primary in B, replicated to A.
        var createInB = KMSCreateKeyRequest()
        createInB.multiRegion = true
        let keyB = try await b.call(KMSMethod.createKey, createInB).keyMetadata
        var replicateToA = KMSReplicateKeyRequest()
        replicateToA.keyID = keyB.keyID
        replicateToA.replicaRegion = Peers.regionA
        _ = try await b.call(KMSMethod.replicateKey, replicateToA)
        let inA = try await peers.eventually("B's replica in A") { () async throws -> KMSKeyMetadata? in
            let metadata = try await a.describe(keyB.keyID)
            return metadata.keyState == .enabled ? metadata : nil
        }
        #expect(inA.multiRegionConfiguration.primaryKey.region == Peers.regionB)
        #expect(try await b.decrypt(try await a.encrypt(keyB.keyID, [6])).plaintext == Data([6]))

        try await Self.checkRootKeysAndExports(peers, keyID: key.keyID)
        try await Self.checkTamperedRowsAreRefused(peers, keyID: key.keyID)
        try await Self.checkAPolicyChangedOnTheWayIsRefused(peers)
        try await Self.checkADeletedReplicaIsGoneInThePrimarysDeployment(peers)
    }

    /// The replica's requested policy is bound to the versions sent with it: a row whose
    /// policy was changed after ReplicateKey (here on A, replicated as an UPDATE while B's kmsd
    /// is stopped) is refused by B's kms-cryptod.
    static func checkAPolicyChangedOnTheWayIsRefused(_ peers: PeerDeployments) async throws {
        var create = KMSCreateKeyRequest()
        create.multiRegion = true
        let key = try await peers.clients[0].call(KMSMethod.createKey, create).keyMetadata
        let family = try KeyID(parsing: key.keyID).publicID.uuid
        let permissive =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","#
            + #""Resource":"*"}]}"#
        peers.kmsds[1].signal(SIGSTOP)
        do {
            var replicate = KMSReplicateKeyRequest()
            replicate.keyID = key.keyID
            replicate.replicaRegion = Peers.regionB
            _ = try await peers.clients[0].call(KMSMethod.replicateKey, replicate)
            try await peers.databases[0].withClient { client in
                try await client.query(
                    "UPDATE kms_mrk_replica_exports SET policy = \(permissive) WHERE mrk_id = \(family)")
            }
            _ = try await peers.eventually("the changed policy in B's table") { () async throws -> Bool? in
                try await peers.databases[1].withClient { client in
                    var changed: Bool?
                    for try await policy in try await client.query(
                        "SELECT policy FROM kms_mrk_replica_exports WHERE mrk_id = \(family)"
                    ).decode(String.self) where policy == permissive { changed = true }
                    return changed
                }
            }
        } catch {
            peers.kmsds[1].signal(SIGCONT)
            throw error
        }
        peers.kmsds[1].signal(SIGCONT)
        let reason = try await peers.eventually("the refusal of the changed replica") { () async throws -> String? in
            try await Self.importOutcome(peers, family, Peers.regionB)
        }
        #expect(reason.contains("InvalidCiphertextException"), "\(reason)")
        #expect(await code { _ = try await peers.clients[1].describe(key.keyID) } == "NotFoundException")
    }

    /// How B handled the export of `family` to `region`: "imported", the rejection's reason, or nil.
    static func importOutcome(_ peers: PeerDeployments, _ family: UUID, _ region: String) async throws -> String? {
        try await peers.databases[1].withClient { client in
            var reason: String?
            for try await (outcome, why) in try await client.query(
                """
                SELECT outcome, reason FROM kms_mrk_imports
                WHERE mrk_id = \(family) AND destination_region = \(region) AND material_id = ''
                """
            ).decode((String, String?).self) { reason = outcome == "rejected" ? why ?? "" : "imported" }
            return reason
        }
    }

    /// The same material in both regions under two root keys, and nothing but sealed material
    /// in the published tables.
    static func checkRootKeysAndExports(_ peers: PeerDeployments, keyID: String) async throws {
        let rings = try peers.workers.map { try RootKeyringFile.load(path: $0.keyringPath) }
        let keyBytes = rings.map { ring in ring.keys.map { root in root.key.withUnsafeBytes { Array($0) } } }
        #expect(Set(rings[0].keys.map(\.id)).isDisjoint(with: rings[1].keys.map(\.id)))
        #expect(Set(keyBytes[0]).isDisjoint(with: keyBytes[1]))

        let family = try KeyID(parsing: keyID).publicID.uuid
        var plaintexts: [Data: [[UInt8]]] = [:]
        for (index, database) in peers.databases.enumerated() {
            let rows = try await database.withClient { client in
                var rows: [(String, Data, Data)] = []
                for try await row in try await client.query(
                    """
                    SELECT k.arn, m.material_id, m.wrapped FROM kms_keys k JOIN kms_key_materials m USING (key_id)
                    JOIN kms_multi_region_keys f USING (key_id) WHERE f.mrk_id = \(family)
                    """
                ).decode((String, Data, Data).self) { rows.append(row) }
                return rows
            }
            #expect(rows.count == 2, "region \(index): both versions")
            for (arn, materialID, wrapped) in rows {
                var parts = arn.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                parts[3] = ""
                let unwrap = { (ring: RootKeyring) throws(KMSError) -> [UInt8] in
                    try MaterialWrapping.unwrap(
                        Array(wrapped), keyARN: parts.joined(separator: ":"), materialID: MaterialID(bytes: materialID),
                        keyring: ring
                    ).material.withUnsafeBytes { Array($0) }
                }
                plaintexts[materialID, default: []].append(try unwrap(rings[index]))
                // Each region's blob is its own root key's: the other keyring cannot open it.
                #expect(throws: KMSError.self) { _ = try unwrap(rings[1 - index]) }
            }
        }
        #expect(plaintexts.count == 2 && plaintexts.values.allSatisfy { $0.count == 2 && $0[0] == $0[1] })

        for database in peers.databases {
            let exported = try await database.withClient { client in
                var rows: [(Data, Data)] = []
                for try await row in try await client.query(
                    """
                    SELECT e.sealed, convert_to(row_to_json(e)::text, 'UTF8') FROM kms_mrk_material_exports e
                    WHERE e.mrk_id = \(family)
                    """
                ).decode((Data, Data).self) { rows.append(row) }
                for try await row in try await client.query(
                    """
                    SELECT ''::bytea, convert_to(row_to_json(e)::text, 'UTF8') FROM kms_mrk_replica_exports e
                    WHERE e.mrk_id = \(family)
                    """
                ).decode((Data, Data).self) { rows.append(row) }
                return rows
            }
            #expect(exported.count == 3, "two versions and the replica")
            for (sealed, text) in exported {
                for material in plaintexts.values.map({ $0[0] }) {
                    #expect(Self.find(material, in: Array(sealed)) == false)
                    #expect(
                        Self.find(Array(material.map { String(format: "%02x", $0) }.joined().utf8), in: Array(text))
                            == false)
                }
            }
        }
    }

    /// Rows written straight into B's tables (replication's copies, moved to another key or
    /// region) are opened by B's kms-cryptod, refused, and never become a key.
    static func checkTamperedRowsAreRefused(_ peers: PeerDeployments, keyID: String) async throws {
        let family = try KeyID(parsing: keyID).publicID
        let forged = KeyID.randomMultiRegion()
        let account = "111122223333"
        let forgedARN = "arn:aws:kms:\(Peers.regionB):\(account):key/\(forged)"
        let movedARN = "arn:aws:kms:\(Peers.otherB):\(account):key/\(family)"
        let (source, region) = (family.uuid, Peers.regionB)
        try await peers.databases[1].withClient { client in
            for (mrk, destination, arn) in [(forged.uuid, region, forgedARN), (source, Peers.otherB, movedARN)] {
                try await client.query(
                    """
                    INSERT INTO kms_mrk_material_exports (mrk_id, destination_region, material_id, source_region,
                        sealed, created_at, rotation_date, rotation_type, current_material_id, with_replica,
                        exported_at)
                    SELECT \(mrk), \(destination), material_id, source_region, sealed, created_at, rotation_date,
                        rotation_type, current_material_id, with_replica, now()
                    FROM kms_mrk_material_exports WHERE mrk_id = \(source) AND destination_region = \(region)
                    """)
                try await client.query(
                    """
                    INSERT INTO kms_mrk_replica_exports (mrk_id, destination_region, source_region, replica_arn,
                        account_id, key_usage, key_spec, origin, description, policy, tag_keys, tag_values,
                        current_material_id, exported_at)
                    SELECT \(mrk), \(destination), source_region, \(arn), account_id, key_usage, key_spec, origin,
                        description, policy, tag_keys, tag_values, current_material_id, now()
                    FROM kms_mrk_replica_exports WHERE mrk_id = \(source) AND destination_region = \(region)
                    """)
            }
        }
        for (mrk, destination) in [(forged, region), (family, Peers.otherB)] {
            let reason = try await peers.eventually("the refusal of \(mrk) in \(destination)") {
                try await Self.importOutcome(peers, mrk.uuid, destination)
            }
            #expect(reason.contains("InvalidCiphertextException"), "\(reason)")
        }
        let keys = try await peers.databases[1].withClient { client in
            var count = 0
            for try await n in try await client.query(
                "SELECT count(*) FROM kms_keys WHERE arn = \(forgedARN) OR arn = \(movedARN)"
            ).decode(Int.self) { count = n }
            return count
        }
        #expect(keys == 0)
        #expect(await code { _ = try await peers.clients[1].describe(forged.description) } == "NotFoundException")
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count)
        where haystack[start..<(start + needle.count)].elementsEqual(
            needle)
        {
            return true
        }
        return false
    }
}
