import Foundation
import KMSDomain
import PostgresNIO

extension AuditStore {
    /// Stores a checkpoint with no records (a writer gone idle, or stopping, whose last records
    /// had none): the head row takes `head` only if it is still `expected`. False when another
    /// writer moved it first; nothing was written then. Rare, so not a prepared statement.
    public func checkpoint(
        _ checkpoint: Checkpoint, head: Head, expecting expected: Head, on connection: PostgresConnection
    ) async throws -> Bool {
        precondition(
            checkpoint.number == head.checkpoint && checkpoint.sequence == head.sequence
                && checkpoint.hash == head.hash,
            "a checkpoint covers the head it is stored with")
        let query: PostgresQuery = """
            WITH moved AS (
                UPDATE kms_audit_chains SET last_seq = \(head.sequence), last_hash = \(ByteBuffer(bytes: head.hash)),
                    checkpoint_no = \(head.checkpoint), checkpoint_seq = \(head.checkpointSequence),
                    checkpoint_mac = \(ByteBuffer(bytes: head.checkpointMAC))
                WHERE chain_id = \(checkpoint.chain) AND last_seq = \(expected.sequence)
                    AND last_hash = \(ByteBuffer(bytes: expected.hash))
                    AND checkpoint_no = \(expected.checkpoint)
                RETURNING 1
            )
            INSERT INTO kms_audit_checkpoints (chain_id, checkpoint_no, last_seq, last_hash, made_at_us, root_key_id,
                mac)
            SELECT \(checkpoint.chain), \(checkpoint.number), \(checkpoint.sequence),
                \(ByteBuffer(bytes: checkpoint.hash)),
                \(checkpoint.microseconds), \(checkpoint.rootKeyID), \(ByteBuffer(bytes: checkpoint.mac))
            WHERE EXISTS (SELECT 1 FROM moved)
            RETURNING 1
            """
        return try await connection.committing(logger: self.logger) { connection in
            var written = false
            for try await _ in try await connection.query(query, logger: self.logger) { written = true }
            return written
        }
    }

    /// The checkpoints of `chain` numbered after `number`, in order, at most `limit`.
    public func checkpoints(of chain: String, after number: Int64, limit: Int) async throws -> [Checkpoint] {
        let rows = try await self.client.query(
            """
            SELECT checkpoint_no, last_seq, last_hash, made_at_us, root_key_id, mac FROM kms_audit_checkpoints
            WHERE chain_id = \(chain) AND checkpoint_no > \(number) ORDER BY checkpoint_no LIMIT \(limit)
            """,
            logger: self.logger
        )
        var checkpoints: [Checkpoint] = []
        for try await (number, sequence, hash, made, root, mac) in rows.decode(
            (Int64, Int64, Data, Int64, UUID, Data).self)
        {
            checkpoints.append(
                Checkpoint(
                    chain: chain, number: number, sequence: sequence, hash: Array(hash), microseconds: made,
                    rootKeyID: root, mac: Array(mac)))
        }
        return checkpoints
    }
}
