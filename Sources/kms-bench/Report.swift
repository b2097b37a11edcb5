import Foundation
import Histogram

/// What a run sustained, as text for people and JSON for machines.
struct Report {
    let transport: String
    let endpoint: String
    let connections: Int
    let inFlight: Int?
    let rate: Double?
    let mix: String
    let payload: Int
    let keys: Int
    let seconds: Double
    let snapshot: Recorder.Snapshot
    /// The key administration beside the load (--admin-rate), reported apart from it.
    var admin: AdminChurn? = nil
    /// Microseconds of CPU a request over the measured window, by process (ProcessCPU).
    var cpuMicrosPerRequest: [String: Double] = [:]

    var requests: Int { self.snapshot.succeeded + self.snapshot.failed }
    var throughput: Double { Double(self.requests) / self.seconds }
    var errorRate: Double { self.requests == 0 ? 0 : Double(self.snapshot.failed) / Double(self.requests) }

    /// Milliseconds at the reported percentiles (and the maximum).
    var latencies: [(String, Double)] {
        let h = self.snapshot.total
        return [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9)].map {
            ($0.0, h.milliseconds(at: $0.1))
        }
            + [("max", Double(h.max) / 1000)]
    }

    func text() -> String {
        let shape =
            self.rate.map { String(format: "open loop at %.0f req/s over %d connections", $0, self.connections) }
            ?? "\(self.connections) connections x \(self.inFlight ?? 1) in flight"
        var lines = [
            "kms-bench: \(self.transport) \(self.endpoint), \(shape), mix \(self.mix), payload \(self.payload) B, "
                + "\(self.keys) key(s)",
            String(
                format: "requests: %d ok, %d failed in %.2f s: %.1f req/s", self.snapshot.succeeded,
                self.snapshot.failed, self.seconds, self.throughput),
            "latency (ms): " + self.latencies.map { String(format: "%@ %.3f", $0.0, $0.1) }.joined(separator: "  "),
        ]
        for (code, count) in self.snapshot.errors.sorted(by: { $0.value > $1.value }) {
            lines.append("error \(code): \(count)")
        }
        if !self.cpuMicrosPerRequest.isEmpty {
            lines.append(
                "CPU a request (us): "
                    + self.cpuMicrosPerRequest.sorted { $0.key < $1.key }.map {
                        "\($0.key) " + String(format: "%.1f", $0.value)
                    }.joined(separator: "  "))
        }
        lines += self.admin?.text() ?? []
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        var object: [String: Any] = [
            "transport": self.transport, "endpoint": self.endpoint, "connections": self.connections,
            "mix": self.mix, "payloadBytes": self.payload, "keys": self.keys, "seconds": self.seconds,
            "requests": self.requests, "succeeded": self.snapshot.succeeded, "failed": self.snapshot.failed,
            "throughput": self.throughput, "errorRate": self.errorRate, "errors": self.snapshot.errors,
            "latencyMs": Dictionary(uniqueKeysWithValues: self.latencies),
        ]
        if let inFlight { object["inFlight"] = inFlight }
        if let rate { object["rate"] = rate }
        if let admin { object["admin"] = admin.json() }
        if !self.cpuMicrosPerRequest.isEmpty { object["cpuMicrosPerRequest"] = self.cpuMicrosPerRequest }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
