import Foundation
import KMSProto
import KMSWorkerProto
import Testing

@testable import KMSFuzzTargets

/// Replays the committed seed corpus and every kept crash through the fuzz targets, without
/// sanitizers, so that every build tests them (scripts/fuzz runs them under libFuzzer and
/// AddressSanitizer).
@Suite struct FuzzCorpusTests {
    static let fuzzFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func files(_ kind: String, _ target: String) throws -> [URL] {
        let folder = fuzzFolder.appendingPathComponent(kind).appendingPathComponent(target)
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") && $0.lastPathComponent != "README.md" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test(arguments: FuzzTarget.all.map(\.name))
    func replaysTheCorpusAndEveryRegression(_ name: String) async throws {
        let target = try #require(FuzzTarget.named(name))
        let corpus = try Self.files("corpus", name)
        let inputs = try (corpus + (try Self.files("regressions", name))).map { Array(try Data(contentsOf: $0)) }
        let seeds = await Self.onOwnThread { target.seeds().count }
        #expect(corpus.count >= seeds, "Fuzz/corpus/\(name) lacks seeds: run scripts/fuzz --write-seeds")
        await Self.onOwnThread { for input in inputs { target.run(input) } }
    }

    @Test(arguments: FuzzTarget.all.map(\.name))
    func theSeedsHoldEveryProperty(_ name: String) async throws {
        let target = try #require(FuzzTarget.named(name))
        await Self.onOwnThread { for seed in target.seeds() { target.run(seed) } }
    }

    /// Runs `body` on a thread of its own, as libFuzzer runs a target on its main thread, not on
    /// one of Swift's cooperative threads: a target is synchronous, and the envelope target
    /// blocks its calling thread while it drives its async calls there (CallingThreadExecutor).
    /// On two cores the pool has two threads, and every other test's async work needs them. (A
    /// CI run that stalled had the envelope target's cases as the last ones its log showed
    /// starting; that log was block-buffered, so this is a precaution, not a proven cause.)
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    @Test func everyFolderNamesATarget() throws {
        let names = Set(FuzzTarget.all.map(\.name))
        for kind in ["corpus", "regressions"] {
            let folder = Self.fuzzFolder.appendingPathComponent(kind)
            for entry in try FileManager.default.contentsOfDirectory(atPath: folder.path)
            where !entry.hasPrefix(".") && entry != "README.md" {
                #expect(names.contains(entry), "Fuzz/\(kind)/\(entry) is not a target")
            }
        }
    }

    /// The protobuf and AWS JSON targets reach every message: a new rpc must be added to
    /// RPCMessages.
    @Test func everyRPCIsFuzzed() {
        #expect(RPCMessages.kms.map(\.method) == KMSMethod.allNames)
        #expect(RPCMessages.admin.map(\.method) == AdminMethod.allNames)
        #expect(RPCMessages.worker.map(\.method) == WorkerMethod.allNames)
        #expect(RPCMessages.xks.map(\.method) == XKSBackendMethod.allNames)
        #expect(Set(KMSMethod.awsJSON.keys) == Set(KMSMethod.allNames))
    }
}
