import ArgumentParser
import Foundation
import KMSClient
import KMSProto
import SwiftProtobuf

/// `kms audit`: the audit log as JSON lines shaped like CloudTrail's events, and `kms audit
/// verify`, which walks the hash chain.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract:
            "List audit records as JSON lines (CloudTrail's eventName, userIdentity, requestParameters, errorCode).",
        subcommands: [AuditList.self, AuditVerify.self],
        defaultSubcommand: AuditList.self
    )
}

struct AuditList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List audit records, oldest first.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only records about this key ARN.") var keyArn: String?
    @Option(help: "Only records of this principal ARN.") var principalArn: String?
    @Option(help: "Only this operation, e.g. Decrypt.") var operation: String?
    @Option(help: "Only records that failed with this code, e.g. AccessDeniedException.") var errorCode: String?
    @Option(help: "From this time (ISO 8601).") var startTime: String?
    @Option(help: "Before this time (ISO 8601).") var endTime: String?
    @Option(help: "At most this many records (default: all).") var maxItems: Int?
    @Option(
        help:
            ArgumentHelp(
                "Records asked for per call, 1..1000 (default 1000; a call returns fewer when they would not fit in "
                    + "one answer).")
    )
    var pageSize: Int = 1000

    func validate() throws {
        guard (1...1000).contains(self.pageSize) else { throw ValidationError("--page-size must be 1..1000") }
        if let maxItems, maxItems < 1 { throw ValidationError("--max-items must be at least 1") }
    }

    func run() async throws {
        let client = try self.global.makeClient()
        defer { Task { await client.close() } }
        var request = AdminListAuditRecordsRequest()
        request.keyArn = self.keyArn ?? ""
        request.principalArn = self.principalArn ?? ""
        request.operation = self.operation ?? ""
        request.errorCode = self.errorCode ?? ""
        let format = ISO8601DateFormatter()
        if let startTime {
            guard let date = format.date(from: startTime) else {
                throw ValidationError("--start-time must be ISO 8601, e.g. 2026-11-29T00:00:00Z")
            }
            request.startTime = Google_Protobuf_Timestamp(date: date)
        }
        if let endTime {
            guard let date = format.date(from: endTime) else {
                throw ValidationError("--end-time must be ISO 8601, e.g. 2026-11-29T00:00:00Z")
            }
            request.endTime = Google_Protobuf_Timestamp(date: date)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var printed = 0
        repeat {
            // Only --max-items shrinks a page: without it every call asks for a full one.
            request.limit = Int32(min(self.pageSize, (self.maxItems ?? .max) - printed))
            let page: AdminListAuditRecordsResponse
            do {
                page = try await client.call(AdminMethod.listAuditRecords, request)
            } catch {
                let message =
                    "An error occurred (\(error.code)) when calling the ListAuditRecords operation: \(error.message)\n"
                FileHandle.standardError.write(Data(message.utf8))
                throw ExitCode(254)
            }
            for record in page.records {
                print(String(decoding: try encoder.encode(CloudTrailEvent(record, format: format)), as: UTF8.self))
                printed += 1
            }
            request.marker = page.nextMarker
        } while !request.marker.isEmpty && printed < (self.maxItems ?? .max)
    }
}

struct AuditVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Walk every chain and check its checkpoints with kms-cryptod; name the first broken record (exit 1).",
        discussion: """
            Prints each chain's records, its last checkpoint and how many records came after it (those only the hash \
            chain covers). With --state FILE, the checkpoints this run saw are kept in FILE, and the next run checks \
            they are all still there: the only way to see a database put back to an earlier state, records and \
            checkpoints together. Keep FILE away from the database's owners.
            """
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: "Checkpoints seen by the last run: checked to be still there, then replaced by this run's.")
    var state: String?

    func run() async throws {
        let client = try self.global.makeClient()
        defer { Task { await client.close() } }
        // A large log takes several calls, each a few seconds; the marker carries the walk on.
        var request = AdminVerifyAuditLogRequest()
        request.expectedCheckpoints = try self.state.map(Self.readState) ?? []
        var result: AdminVerifyAuditLogResponse
        var chains: [AdminAuditChainReport] = []
        repeat {
            do {
                result = try await client.call(AdminMethod.verifyAuditLog, request)
            } catch {
                let message =
                    "An error occurred (\(error.code)) when calling the VerifyAuditLog operation: \(error.message)\n"
                FileHandle.standardError.write(Data(message.utf8))
                throw ExitCode(254)
            }
            chains += result.chains
            request.marker = result.nextMarker
        } while result.intact && !result.nextMarker.isEmpty
        // The verdict first, then each chain as found (those walked before a break, when broken).
        guard result.intact else {
            print("BROKEN: \(result.reason)")
            for chain in chains { print(Self.describe(chain)) }
            throw ExitCode(1)
        }
        print(
            "intact: \(result.recordsChecked) records in \(result.chainsChecked) chains, every one linked to the one "
                + "before; \(result.checkpointsChecked) checkpoints verified by kms-cryptod"
        )
        for chain in chains { print(Self.describe(chain)) }
        if let state { try Self.writeState(chains, to: state) }
    }

    static func describe(_ chain: AdminAuditChainReport) -> String {
        guard chain.lastCheckpointNumber > 0 else {
            return "chain \(chain.chainID): \(chain.records) records, no checkpoint (only the hash chain covers them)"
        }
        let time = ISO8601DateFormatter().string(from: chain.lastCheckpointTime.date)
        let after =
            chain.recordsAfterCheckpoint == 0
            ? "none after it" : "\(chain.recordsAfterCheckpoint) after it not yet checkpointed"
        return
            "chain \(chain.chainID): \(chain.records) records, \(chain.checkpoints) checkpoints, the last at record "
            + "\(chain.lastCheckpointSequence) (\(time)); \(after)"
    }

    /// The state file: per chain, its last checkpoint's number and MAC, as JSON.
    static func readState(_ path: String) throws -> [AdminAuditCheckpointAnchor] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let chains = object["chains"] as? [String: Any]
        else {
            throw ValidationError("\(path) is not a state file written by kms audit verify")
        }
        return try chains.map { chain, value in
            guard let value = value as? [String: Any],
                let number = value["checkpoint"] as? Int64 ?? (value["checkpoint"] as? Int).map(Int64.init),
                let mac = value["mac"] as? String
            else { throw ValidationError("\(path): chain \(chain) has no checkpoint and mac") }
            var anchor = AdminAuditCheckpointAnchor()
            anchor.chainID = chain
            anchor.number = number
            anchor.mac = mac
            return anchor
        }
    }

    /// Written whole under a temporary name, then renamed: a crash leaves the old state or the new.
    static func writeState(_ chains: [AdminAuditChainReport], to path: String) throws {
        var entries: [String: Any] = [:]
        for chain in chains where chain.lastCheckpointNumber > 0 {
            entries[chain.chainID] = [
                "checkpoint": chain.lastCheckpointNumber, "mac": chain.lastCheckpointMac,
                "sequence": chain.lastCheckpointSequence,
            ]
        }
        let data = try JSONSerialization.data(
            withJSONObject: ["chains": entries], options: [.sortedKeys, .prettyPrinted])
        let temporary = path + ".tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else { throw ValidationError("cannot replace \(path)") }
    }
}
