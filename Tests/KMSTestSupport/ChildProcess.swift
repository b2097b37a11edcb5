import Dispatch
import Foundation

/// What a child process printed and how it ended.
public struct ChildProcessResult: Sendable {
    public let status: Int32
    public let stdout: Data
    public let stderr: Data

    public var stdoutText: String { String(decoding: self.stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: self.stderr, as: UTF8.self) }
}

/// Runs a process to completion without blocking Swift's cooperative thread pool: the waiting
/// and reading happen on Dispatch threads. (Blocking the pool's two threads here, for the length
/// of a Python suite, stalls every other test's event handling until its handshakes time out.)
/// Both pipes are read at once, so a child filling one of them never deadlocks.
public func runChildProcess(
    _ executable: URL, _ arguments: [String], environment: [String: String]? = nil, input: Data? = nil,
    mergeStandardError: Bool = false,
    currentDirectory: URL? = nil
) async throws -> ChildProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            if let environment { process.environment = environment }
            if let currentDirectory { process.currentDirectoryURL = currentDirectory }
            let out = Pipe()
            let err = Pipe()
            let stdin = Pipe()
            process.standardOutput = out
            process.standardError = mergeStandardError ? out : err
            process.standardInput = stdin
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            if let input { stdin.fileHandleForWriting.write(input) }
            try? stdin.fileHandleForWriting.close()
            let group = DispatchGroup()
            nonisolated(unsafe) var stderr = Data()
            if !mergeStandardError {
                DispatchQueue.global().async(group: group) { stderr = err.fileHandleForReading.readDataToEndOfFile() }
            }
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            group.wait()
            process.waitUntilExit()
            continuation.resume(
                returning: ChildProcessResult(status: process.terminationStatus, stdout: stdout, stderr: stderr))
        }
    }
}
