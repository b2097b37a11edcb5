import Foundation

/// Where a long-running child of the tests (kms-cryptod, kmsd) writes its output: a file in its
/// own folder, never the test process's stdout and stderr. A child that inherited those and
/// outlived its test (a stop that lost a race with the test binary's exit) would hold `swift
/// test`'s output pipe open, and the run would never end.
public struct ChildLog: Sendable {
    /// The file.
    public let path: String

    /// A new log file `name` in `directory`, truncated.
    public init(in directory: URL, name: String) {
        self.path = directory.appendingPathComponent(name).path
    }

    /// Points `process`'s stdout and stderr at the file (and its stdin at /dev/null).
    public func attach(to process: Process) throws {
        FileManager.default.createFile(atPath: self.path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: self.path) else {
            throw WorkerTestError("cannot open the child log \(self.path)")
        }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
    }

    /// The file's last `bytes` bytes, for a failure's message.
    public func tail(_ bytes: Int = 4000) -> String {
        guard let data = FileManager.default.contents(atPath: self.path) else { return "" }
        return String(decoding: data.suffix(bytes), as: UTF8.self)
    }
}
