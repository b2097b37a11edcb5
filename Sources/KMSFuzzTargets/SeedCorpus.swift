import Crypto
import Foundation

extension FuzzTarget {
    /// libFuzzer's name for a corpus file: the SHA-1 of its content, so that writing the same
    /// seed twice gives one file.
    public static func corpusFileName(_ bytes: [UInt8]) -> String {
        Insecure.SHA1.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Writes this target's seeds into `folder` (created if missing), each checked by running
    /// the target on it first; returns how many files are new.
    @discardableResult
    public func writeSeeds(to folder: URL) throws -> Int {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var written = 0
        for seed in self.seeds() {
            self.run(seed)
            let file = folder.appendingPathComponent(Self.corpusFileName(seed))
            if !FileManager.default.fileExists(atPath: file.path) {
                try Data(seed).write(to: file)
                written += 1
            }
        }
        return written
    }
}
