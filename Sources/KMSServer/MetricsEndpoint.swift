import KMSRPC
import NIOCore

/// kmsd's metrics listener: GET /metrics for Prometheus to scrape (`render` produces the body,
/// kmsd's registry's text exposition), and the probes: GET /healthz (200 while the process
/// runs) and GET /readyz (200 when ready to serve, else 503 naming each failed check).
public enum MetricsEndpoint {
    /// Binds to `address` and serves the three paths until the returned channel is closed.
    public static func bind(
        to address: SocketAddress, render: @escaping @Sendable () -> [UInt8], readiness: Readiness
    ) async throws -> any Channel {
        try await ProbeEndpoint.bind(
            to: address,
            routes: [
                "/metrics": {
                    ProbeEndpoint.Answer(status: 200, contentType: "text/plain; version=0.0.4", body: render())
                },
                "/healthz": { .alive },
                "/readyz": { await readiness.report().answer },
            ])
    }
}
