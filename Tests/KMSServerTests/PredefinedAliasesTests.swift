import KMSDomain
import KMSProto
import Testing

@testable import KMSServer

/// ListAliases' merge of AWS's predefined aliases into a page of stored ones: byte order, each
/// name once, none past a full page's last stored alias (a later page holds it, stored or not).
/// Pure: no process.
@Suite struct PredefinedAliasesTests {
    static func entry(_ name: String, target: String = "k") -> KMSAliasListEntry {
        var entry = KMSAliasListEntry()
        entry.aliasName = name
        entry.targetKeyID = target
        return entry
    }

    static func merge(_ stored: [String], after: String? = nil, full: Bool = false) -> [KMSAliasListEntry] {
        KMSService.withPredefinedAliases(
            stored.map { Self.entry($0) }, after: after, storePageFull: full, arn: { "arn:" + $0 })
    }

    @Test func aPageThatIsNotFullGetsEveryPredefinedAliasAfterTheMarker() {
        let merged = Self.merge(["alias/App", "alias/aws/s3", "alias/zeta"])
        let names = merged.map(\.aliasName)
        #expect(names == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(names.count == 2 + AWSManagedServices.predefinedAliases.count)
        // The stored alias/aws/s3 (its managed key exists) stays, with its target, once.
        #expect(merged.filter { $0.aliasName == "alias/aws/s3" }.map(\.targetKeyID) == ["k"])
        let xray = merged.first { $0.aliasName == "alias/aws/xray" }
        #expect(xray?.targetKeyID == "" && xray?.aliasArn == "arn:alias/aws/xray" && xray?.hasCreationDate == false)
        #expect(
            Self.merge([], after: "alias/aws/secretsmanager").map(\.aliasName) == ["alias/aws/ssm", "alias/aws/xray"])
    }

    @Test func aFullPageStopsAtItsLastStoredAlias() {
        let names = Self.merge(["alias/aws/acm", "alias/aws/es"], full: true).map(\.aliasName)
        #expect(
            names == [
                "alias/aws/acm", "alias/aws/dynamodb", "alias/aws/ebs", "alias/aws/elasticfilesystem", "alias/aws/es",
            ])
    }
}
