import CKMSPKCS11
import Foundation

/// The sessions of one token connection. PKCS #11 lets any thread use a module initialized with
/// CKF_OS_LOCKING_OK, but one session must never serve two calls at once: a call checks a session
/// out, uses it alone, and checks it back in. Sessions open on demand up to `capacity`; past that,
/// a call waits (bounded) for one to come back.
///
/// The sessions of a logged-in token share its login (the standard's login is per application
/// and token), so the pool keeps its idle sessions open: closing the last one would log out.
final class PKCS11SessionPool: @unchecked Sendable {
    private let module: PKCS11Module
    private let slot: UInt
    private let capacity: Int
    private let wait: Duration
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var idle: [UInt] = []
    private var open = 0
    private var closed = false

    init(module: PKCS11Module, slot: UInt, capacity: Int, wait: Duration) {
        self.module = module
        self.slot = slot
        self.capacity = max(1, capacity)
        self.wait = wait
    }

    /// Adds a session opened by the caller (the one that logged in) to the idle ones.
    func adopt(_ session: UInt) {
        self.condition.lock()
        self.open += 1
        self.idle.append(session)
        self.condition.unlock()
    }

    /// Runs `body` with a session of its own. A failure that means the session is gone
    /// (`PKCS11Error.connectionLost`) closes the session rather than returning it.
    func withSession<T>(_ body: (UInt) throws(PKCS11Error) -> T) throws(PKCS11Error) -> T {
        let session = try self.checkOut()
        do throws(PKCS11Error) {
            let result = try body(session)
            self.checkIn(session, discard: false)
            return result
        } catch {
            self.checkIn(session, discard: error.connectionLost)
            throw error
        }
    }

    private func checkOut() throws(PKCS11Error) -> UInt {
        let deadline = Date().addingTimeInterval(self.wait.seconds)
        self.condition.lock()
        while true {
            if self.closed {
                self.condition.unlock()
                throw .disconnected
            }
            if let session = self.idle.popLast() {
                self.condition.unlock()
                return session
            }
            if self.open < self.capacity {
                self.open += 1
                self.condition.unlock()
                var session: UInt = 0
                let rv = kms_p11_open_session(self.module.handle, self.slot, &session)
                guard rv == 0 else {
                    self.condition.lock()
                    self.open -= 1
                    self.condition.signal()
                    self.condition.unlock()
                    throw .call(function: "C_OpenSession", returnValue: PKCS11ReturnValue(rawValue: rv))
                }
                return session
            }
            if !self.condition.wait(until: deadline) {
                self.condition.unlock()
                throw .noSessionAvailable(waitedSeconds: Int(self.wait.seconds.rounded(.up)))
            }
        }
    }

    private func checkIn(_ session: UInt, discard: Bool) {
        self.condition.lock()
        let close = discard || self.closed
        if close {
            self.open -= 1
        } else {
            self.idle.append(session)
        }
        self.condition.signal()
        self.condition.unlock()
        if close { _ = kms_p11_close_session(self.module.handle, session) }
    }

    /// Closes the idle sessions now and the busy ones as they come back; later calls fail with
    /// `.disconnected`. When the last session closes, the token logs out.
    func close() {
        self.condition.lock()
        self.closed = true
        let sessions = self.idle
        self.idle = []
        self.open -= sessions.count
        self.condition.broadcast()
        self.condition.unlock()
        for session in sessions { _ = kms_p11_close_session(self.module.handle, session) }
    }

    /// Sessions open now (idle or busy).
    var openCount: Int {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.open
    }
}

extension Duration {
    var seconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}
