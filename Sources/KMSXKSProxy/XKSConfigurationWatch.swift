import Crypto
import Foundation
import Synchronization

/// What kms-xks-proxy last tried to load from its configuration file, by content digest, so
/// that SIGHUP and the periodic look at the file load each new content once: a file that did
/// not load is not tried (nor logged) again until it changes, and a file rewritten with the
/// same bytes is not reloaded. Read whole every time: a few hundred bytes, and a modification
/// time may not change between two writes within its granularity.
public final class XKSConfigurationWatch: Sendable {
    private let path: String
    private let last: Mutex<SHA256.Digest?>

    /// A watch of `path`, whose current content is what the proxy started with.
    public init(path: String) {
        self.path = path
        self.last = Mutex(Self.digest(path))
    }

    /// Reloads `service` from the file when its content changed since the last attempt.
    /// Returns whether it attempted a reload.
    @discardableResult
    public func reloadIfChanged(_ service: XKSProxyService) -> Bool {
        let current = Self.digest(self.path)
        let changed = self.last.withLock { last in
            defer { last = current }
            return last != current
        }
        guard changed else { return false }
        service.reload(path: self.path)
        return true
    }

    static func digest(_ path: String) -> SHA256.Digest? {
        FileManager.default.contents(atPath: path).map { SHA256.hash(data: $0) }
    }
}
