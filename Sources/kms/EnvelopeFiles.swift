import Foundation

/// The input of `kms envelope` as 1 MiB chunks, read as the output asks for them.
struct EnvelopeFileInput: AsyncSequence, @unchecked Sendable {
    typealias Element = [UInt8]
    let handle: FileHandle
    /// The file's size when it is a regular file (for the progress line).
    let size: Int?
    private let counter = ByteCounter()

    /// How much has been read so far.
    var bytesRead: Int { self.counter.value }

    init(path: String) throws {
        if path == "-" {
            self.handle = .standardInput
            self.size = nil
            return
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw EnvelopeFileError("cannot read \(path)") }
        self.handle = handle
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        self.size = attributes?[.type] as? FileAttributeType == .typeRegular ? (attributes?[.size] as? Int) : nil
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: self.handle, counter: self.counter) }

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle
        let counter: ByteCounter

        mutating func next() async throws -> [UInt8]? {
            guard let data = try self.handle.read(upToCount: 1 << 20), !data.isEmpty else { return nil }
            self.counter.value += data.count
            return [UInt8](data)
        }
    }

    final class ByteCounter: @unchecked Sendable {
        var value = 0
    }
}

/// The output of `kms envelope`: a temporary file beside the destination, renamed over it by
/// `commit`, so that a failed run leaves the destination as it was; or standard output.
struct EnvelopeFileOutput {
    let path: String
    let temporary: String?
    let handle: FileHandle

    init(path: String, mode: mode_t) throws {
        self.path = path
        guard path != "-" else {
            self.temporary = nil
            self.handle = .standardOutput
            return
        }
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).partial").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw EnvelopeFileError("cannot create \(temporary): errno \(errno)") }
        self.temporary = temporary
        self.handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    func write(_ bytes: [UInt8]) throws { try self.handle.write(contentsOf: bytes) }

    func commit() throws {
        guard let temporary else { return }
        try self.handle.synchronize()
        try self.handle.close()
        guard rename(temporary, self.path) == 0 else {
            throw EnvelopeFileError("cannot rename over \(self.path): errno \(errno)")
        }
    }

    func discard() {
        guard let temporary else { return }
        try? self.handle.close()
        unlink(temporary)
    }
}

struct EnvelopeFileError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One line on stderr, redrawn at most five times a second: bytes done of the input's size.
final class EnvelopeProgress {
    let total: Int?
    let enabled: Bool
    private var last = ContinuousClock.now - .seconds(1)

    init(total: Int?, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    func update(_ done: Int) {
        guard self.enabled, ContinuousClock.now - self.last >= .milliseconds(200) else { return }
        self.last = .now
        self.draw(done)
    }

    /// The last line (nil: failed, the line is only ended).
    func finish(_ done: Int?) {
        guard self.enabled else { return }
        if let done { self.draw(done) }
        FileHandle.standardError.write(Data("\n".utf8))
    }

    private func draw(_ done: Int) {
        let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        var line = "\r\(mib(done))"
        if let total, total > 0 {
            let width = 30
            let filled = min(width, Int(Double(done) / Double(total) * Double(width)))
            line =
                "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] "
                + "\(mib(done)) / \(mib(total))"
        }
        FileHandle.standardError.write(Data((line + "  ").utf8))
    }
}
