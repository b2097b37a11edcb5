import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What kms-cryptod does to itself before it reads a root key, so that key material reaches
/// neither a core dump, nor another process of the same user, nor swap:
///
/// - not dumpable (`prctl(PR_SET_DUMPABLE, 0)`): no core dump, and a process of the same uid
///   without CAP_SYS_PTRACE can neither ptrace it nor read its /proc/<pid>/mem or environ;
/// - core file size limit 0 (`RLIMIT_CORE`), for core patterns that would still write one;
/// - all memory locked (`mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)`): pages are locked as
///   they are first touched, so the keyring, the cache of unwrapped material and every buffer
///   they pass through are never written to swap. It is done only where it cannot fail later:
///   with CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK. Under a small limit MCL_FUTURE would make
///   later allocations (a thread's stack) fail; then the memory stays unlocked and a warning
///   says how to allow it (or to run without swap, as Kubernetes nodes do by default).
public enum ProcessHardening {
    /// What `apply` managed to do; anything false has its reason in `problems`.
    public struct Report: Sendable, CustomStringConvertible {
        /// PR_SET_DUMPABLE is 0: no ptrace by other processes of the same uid, no core file.
        public var nonDumpable = false
        /// RLIMIT_CORE is 0.
        public var coreDumpsOff = false
        /// mlockall succeeded: no page of this process is written to swap.
        public var memoryLocked = false
        /// Why something could not be done, for a warning.
        public var problems: [String] = []

        /// One line for the startup log.
        public var description: String {
            "non-dumpable: \(nonDumpable), core dumps off: \(coreDumpsOff), memory locked: \(memoryLocked)"
        }
    }

    static let prSetDumpable: Int32 = 4
    static let mclCurrent: Int32 = 1
    static let mclFuture: Int32 = 2
    static let mclOnFault: Int32 = 4
    static let capIPCLock = 14

    /// Applies all of it; `lockMemory` false for short commands that never serve.
    public static func apply(lockMemory: Bool = true) -> Report {
        var report = Report()
        if let prctl = Self.prctl() {
            if prctl(prSetDumpable, 0, 0, 0, 0) == 0 {
                report.nonDumpable = true
            } else {
                report.problems.append("prctl(PR_SET_DUMPABLE, 0) failed: \(errnoText())")
            }
        } else {
            report.problems.append("prctl is not available")
        }
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        if setrlimit(coreResource, &limit) == 0 {
            report.coreDumpsOff = true
        } else {
            report.problems.append("setrlimit(RLIMIT_CORE, 0) failed: \(errnoText())")
        }
        guard lockMemory else { return report }
        if Self.mayLockAllMemory() {
            if mlockall(mclCurrent | mclFuture | mclOnFault) == 0 {
                report.memoryLocked = true
            } else {
                report.problems.append("mlockall failed: \(errnoText())")
            }
        } else {
            report.problems.append(
                "memory is not locked, so key material may reach swap: give kms-cryptod CAP_IPC_LOCK or an unlimited "
                    + "RLIMIT_MEMLOCK (ulimit -l unlimited), or run it where there is no swap"
            )
        }
        return report
    }

    /// CAP_IPC_LOCK in the effective set, or no limit on locked memory.
    static func mayLockAllMemory() -> Bool {
        var limit = rlimit()
        if getrlimit(memlockResource, &limit) == 0, limit.rlim_cur == rlim_t.max { return true }  // RLIM_INFINITY
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & (1 << UInt64(capIPCLock)) != 0
    }

    #if os(Linux)
        static let coreResource = __rlimit_resource_t(RLIMIT_CORE.rawValue)
        // Glibc defines RLIMIT_MEMLOCK as a macro over this enum case, which Swift does not import.
        static let memlockResource = __rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue)
    #else
        static let coreResource = RLIMIT_CORE
        static let memlockResource = RLIMIT_MEMLOCK
    #endif

    /// prctl is variadic in C, which Swift does not import; every argument it takes for
    /// PR_SET_DUMPABLE is an integer register, so calling it through this type is the same call.
    typealias PrctlFunction = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32

    static func prctl() -> PrctlFunction? {
        #if os(Linux)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl") else { return nil }
            return unsafeBitCast(symbol, to: PrctlFunction.self)
        #else
            return nil
        #endif
    }
}
