import ArgumentParser
import Foundation

/// The CPU time each process of the path spends on a request over the measured window: kms-bench
/// itself and the processes named with `--cpu-of` (kmsd, kms-cryptod, PostgreSQL...), read from
/// Linux's /proc when the window opens and when it closes. A rate says how fast; this says what each
/// request costs the machine, and where, which is what bounds the rate when client and servers
/// share the cores.
enum ProcessCPU {
    /// A process to account for: its name in the report, its pid, and whether its children count
    /// (PostgreSQL's postmaster does its work in the backends it forks).
    struct Watched: ExpressibleByArgument, Sendable {
        let name: String
        let pid: Int32
        let withChildren: Bool

        /// `NAME=PID`, or `NAME=PID+` to count its children too.
        init?(argument: String) {
            guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else { return nil }
            var pid = argument[argument.index(after: equals)...]
            let withChildren = pid.hasSuffix("+")
            if withChildren { pid = pid.dropLast() }
            guard let value = Int32(pid), value > 0 else { return nil }
            self.name = String(argument[..<equals])
            self.pid = value
            self.withChildren = withChildren
        }
    }

    /// CPU seconds used so far by kms-bench (under "kms-bench") and by each watched process that
    /// could be read.
    static func sample(_ watched: [Watched]) -> [String: Double] {
        var seconds: [String: Double] = [:]
        var usage = rusage()
        if getrusage(RUSAGE_SELF.rawValue, &usage) == 0 {
            seconds["kms-bench"] = usage.ru_utime.seconds + usage.ru_stime.seconds
        }
        let children = watched.contains { $0.withChildren } ? Self.childrenByParent() : [:]
        for process in watched {
            guard var total = Self.stat(process.pid)?.cpuSeconds else { continue }
            if process.withChildren {
                total += (children[process.pid] ?? []).compactMap { Self.stat($0)?.cpuSeconds }.reduce(0, +)
            }
            seconds[process.name] = total
        }
        return seconds
    }

    /// Microseconds of CPU a request between two samples, for the names in both.
    static func perRequest(from start: [String: Double], to end: [String: Double], requests: Int) -> [String: Double] {
        guard requests > 0 else { return [:] }
        var micros: [String: Double] = [:]
        for (name, before) in start {
            if let after = end[name] { micros[name] = (after - before) * 1e6 / Double(requests) }
        }
        return micros
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The parent pid and CPU seconds (user + system) from /proc/PID/stat. The command name, in
    /// parentheses, may hold spaces and parentheses itself: the fields are counted after its last ')'.
    private static func stat(_ pid: Int32) -> (parent: Int32, cpuSeconds: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After the name: state, ppid, ... utime is the 14th field of the line, stime the 15th.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let parent = Int32(fields[1]), let user = Double(fields[11]),
            let system = Double(fields[12])
        else { return nil }
        return (parent, (user + system) / Self.ticksPerSecond)
    }

    private static func childrenByParent() -> [Int32: [Int32]] {
        var children: [Int32: [Int32]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let parent = Self.stat(pid)?.parent else { continue }
            children[parent, default: []].append(pid)
        }
        return children
    }
}

extension timeval {
    fileprivate var seconds: Double { Double(self.tv_sec) + Double(self.tv_usec) / 1e6 }
}
