import ArgumentParser
import Foundation
import KMSClient
import KMSProto
import KMSRPC
import NIOCore
import NIOPosix

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a load against a KMS endpoint and report throughput, errors and latency percentiles.",
        discussion: """
            Closed loop by default (--connections x --in-flight workers, each sending as soon as it is \
            answered); --rate switches to an open loop at that many requests per second, with latency \
            measured from each request's intended send time. --admin-rate adds key administration \
            beside the load (CreateKey, aliases, key policies, on-demand rotation, grants, deletions \
            scheduled and cancelled), reported apart from it. Exits 1 when the error rate passes \
            --max-error-rate.
            """
    )

    @Option(help: "kmsd: host:port or tls://host:port (default: $KMS_ENDPOINT, else 127.0.0.1:7400).") var endpoint:
        String?
    @Option(
        help:
            "Credentials profile (default: $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, else $AWS_PROFILE or 'default').")
    var profile: String?
    @Option(
        name: [.customLong("protocol"), .customLong("transport")],
        help: ArgumentHelp(
            "binary (kmsd's protocol, one multiplexed connection per --connections) or aws-json (the AWS JSON "
                + "API over keep-alive HTTP/1.1, each request signed with SigV4 as the SDKs do: --connections x "
                + "--in-flight HTTP connections, one request at a time each; keys are set up over the binary "
                + "protocol)."))
    var transport = "binary"
    @Option(
        help: "With --protocol aws-json: the AWS JSON endpoint, http(s)://host:port (default: $AWS_ENDPOINT_URL_KMS).")
    var awsEndpoint: String?
    @Option(help: "With --protocol aws-json: the region signed for (default: $AWS_REGION, $AWS_DEFAULT_REGION).")
    var region: String?
    @Option(help: "Connections to open.") var connections = 4
    @Option(help: "Requests in flight per connection (closed loop).") var inFlight = 16
    @Option(help: "Open loop: target requests per second over all connections.") var rate: Double?
    @Option(help: "Open loop: most unanswered requests before new ones count as ClientOverloaded.") var maxOutstanding =
        10_000
    @Option(help: "Seconds to measure (after the warm-up).") var duration: Double = 10
    @Option(help: "Stop after this many requests instead of after --duration.") var requests: Int?
    @Option(help: "Seconds of load before measuring.") var warmup: Double = 1
    @Option(help: "Operations and weights, e.g. GenerateDataKey:50,Decrypt:50.") var mix =
        "GenerateDataKey:50,Decrypt:50"
    @Option(help: "Plaintext bytes for Encrypt, GenerateMac and VerifyMac (1..4096), and GenerateRandom.") var payload =
        32
    @Option(help: "Encryption context, k=v,k2=v2.") var context: String?
    @Option(help: "Keys to create and spread the load over (to exercise caches).") var keys = 1
    @Option(help: "Use this existing key instead of creating keys (one of the kind the mix needs).") var keyId: String?
    @Option(
        help:
            ArgumentHelp(
                "Spec of the keys Sign and Verify create: ECC_NIST_P256 (default; ECDSA_SHA_256 over a 32-byte "
                    + "digest), "
                    + "ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, ECC_NIST_EDWARDS25519, or RSA_2048|3072|4096 "
                    + "(RSASSA_PSS_SHA_256).")
    )
    var signingKeySpec = "ECC_NIST_P256"
    @Option(help: "Name keys by alias or id.") var by = "id"
    @Option(
        help:
            ArgumentHelp(
                "Keep the keys under this name (aliases alias/kms-bench/set/NAME/...): a later run with the same "
                    + "name and --keys uses them instead of creating new ones, e.g. after kmsd restarted.")
    )
    var keySet: String?
    @Option(
        help:
            ArgumentHelp(
                "Key administration beside the load, this many requests per second, one at a time (see AdminChurn); "
                    + "its failures count toward --max-error-rate.")
    )
    var adminRate: Double?
    @Option(
        help:
            "With --admin-rate: do exactly this many administration cycles, waiting for them after the load if need be."
    )
    var adminCycles: Int?
    @Flag(help: "Drive the ceiling pair (kms-bench ceiling-front) with Echo instead of a KMS.") var ceiling = false
    @Flag(help: "Print the result as JSON on stdout.") var json = false
    @Option(help: "Fail (exit 1) above this fraction of failed requests.") var maxErrorRate = 0.001
    @Flag(inversion: .prefixedNo, help: "Live progress line on stderr (default: when stderr is a terminal).")
    var progress: Bool?
    @Option(
        help:
            ArgumentHelp(
                "Write one line per second to this file: second, requests, succeeded, failed, p50/p99/max ms and "
                    + "errors by code (seconds count from the start; the warm-up records nothing).")
    )
    var timeline: String?
    @Option(
        help:
            ArgumentHelp(
                "Report the CPU a request costs this process over the measured window, as NAME=PID, or NAME=PID+ to "
                    + "count its children too (PostgreSQL's backends); repeatable. kms-bench's own is always reported "
                    + "(Linux's /proc; a process that cannot be read is left out).")
    )
    var cpuOf: [ProcessCPU.Watched] = []

    func validate() throws {
        guard transport == "binary" || transport == "aws-json" else {
            throw ValidationError("--protocol is binary or aws-json, not \(transport)")
        }
        if transport == "aws-json" {
            guard rate == nil, !ceiling else {
                throw ValidationError(
                    "--protocol aws-json drives a closed loop against a KMS (no --rate, no --ceiling)")
            }
        }
        guard connections >= 1, inFlight >= 1 else {
            throw ValidationError("--connections and --in-flight must be at least 1")
        }
        guard (1...4096).contains(payload) else { throw ValidationError("--payload must be 1..4096") }
        guard by == "id" || by == "alias" else { throw ValidationError("--by is id or alias") }
        if let rate { guard rate > 0 else { throw ValidationError("--rate must be positive") } }
        if let adminRate {
            guard adminRate > 0 else { throw ValidationError("--admin-rate must be positive") }
            guard !ceiling else { throw ValidationError("--admin-rate needs a KMS endpoint, not --ceiling") }
        }
        if let adminCycles {
            guard adminRate != nil, adminCycles >= 1 else {
                throw ValidationError("--admin-cycles needs --admin-rate and must be at least 1")
            }
        }
        guard KMSKeySpec(awsName: signingKeySpec).flatMap(SigningTarget.algorithm(for:)) != nil else {
            throw ValidationError("--signing-key-spec must be an RSA, ECC or ECC_NIST_EDWARDS25519 key spec")
        }
        guard duration > 0 || requests != nil else { throw ValidationError("--duration must be positive") }
    }

    func run() async throws {
        let endpoint =
            self.endpoint ?? ProcessInfo.processInfo.environment["KMS_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "127.0.0.1:7400"
        let mix = try Mix(parsing: self.ceiling ? "Echo" : self.mix)
        var context: [String: String] = [:]
        for pair in (self.context ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            context[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }

        var lanes = Lanes(clients: [], echoes: [])
        let workload: Workload
        var churn: (AdminChurn, KMSClient)?
        if self.ceiling {
            let address = try Self.address(endpoint)
            var echoes: [RPCClientConnection] = []
            for _ in 0..<self.connections { echoes.append(try await RPCClientConnection.connect(to: address)) }
            lanes = Lanes(clients: [], echoes: echoes)
            workload = .echo(payload: self.payload)
        } else {
            var configuration = KMSClient.Configuration()
            configuration.connections = 1
            // Measure the service, not the retry policy. Reconnects still back off (KMSClient's
            // pool: 50 ms doubling to 2 s, jittered), so a run over a kmsd that is down, or
            // restarting, waits for it instead of retrying a refused connect at once.
            configuration.maxAttempts = 1
            configuration.timeout = .seconds(30)
            let resolved = try KMSClientEnvironment(endpoint: endpoint, profile: self.profile).resolve(configuration)
            var clients: [KMSClient] = []
            var loops: [any EventLoop] = []
            for _ in 0..<self.connections {
                // Each client on one loop, where its workers run too (`Lanes.executor`).
                var configuration = resolved.configuration
                let loop = MultiThreadedEventLoopGroup.singleton.next()
                configuration.eventLoopGroup = loop
                clients.append(try KMSClient(endpoint: resolved.endpoint, configuration: configuration))
                loops.append(loop)
            }
            lanes = Lanes(clients: clients, echoes: [], loops: loops)
            // Setup is not measured: its own client retries what a busy service fails retryably
            // (a database slower than kmsd's bound on a loaded machine), for about ten seconds.
            var setupConfiguration = resolved.configuration
            setupConfiguration.maxAttempts = 10
            let setup = try KMSClient(endpoint: resolved.endpoint, configuration: setupConfiguration)
            do {
                workload = try await Workload.prepare(
                    client: setup, keyID: self.keyId, keys: max(1, self.keys), byAlias: self.by == "alias",
                    keySet: self.keySet,
                    payload: self.payload, context: context, kinds: mix.keyKinds,
                    signingKeySpec: KMSKeySpec(awsName: self.signingKeySpec) ?? .eccNistP256
                )
                await setup.close()
            } catch let error as KMSClientError {
                await setup.close()
                throw ValidationError("setting up keys failed: \(error)")
            }
            if let adminRate {
                // A connection of its own, so administration never waits behind the load's queue.
                let client = try KMSClient(endpoint: resolved.endpoint, configuration: resolved.configuration)
                // Policies change only on keys this run made, never on one given by --key-id.
                let references =
                    self.keyId != nil
                    ? []
                    : workload.targets.map(\.keyReference) + workload.signers.map(\.sign.keyID)
                        + workload.macs.map(\.generate.keyID)
                do {
                    let loadKeys = try await AdminChurn.keyIDs(of: references, client: client)
                    churn = (
                        AdminChurn(
                            rate: adminRate, run: UUID().uuidString.prefix(8).lowercased(), loadKeys: loadKeys,
                            cycles: self.adminCycles), client
                    )
                } catch {
                    throw ValidationError("setting up --admin-rate failed: \(error)")
                }
            }
        }

        var reportedEndpoint = endpoint
        if self.transport == "aws-json" {
            let environment = ProcessInfo.processInfo.environment
            func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
            guard let url = self.awsEndpoint ?? env("AWS_ENDPOINT_URL_KMS") else {
                throw ValidationError("--protocol aws-json needs --aws-endpoint or $AWS_ENDPOINT_URL_KMS")
            }
            guard let credentials = try KMSCredentials.resolve(profile: self.profile) else {
                throw ValidationError("--protocol aws-json needs credentials to sign with")
            }
            let signer = SigV4Signer(
                accessKeyID: credentials.accessKeyID, secretAccessKey: credentials.secretAccessKey,
                region: self.region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? "us-east-1")
            lanes.awsBodies = try AWSJSONBodies(workload)
            for _ in 0..<(self.connections * self.inFlight) {
                lanes.aws.append(
                    try AWSJSONConnection(
                        url: url, caBundle: env("AWS_CA_BUNDLE"), signer: signer,
                        eventLoop: MultiThreadedEventLoopGroup.singleton.next()))
            }
            reportedEndpoint = url
        }

        let start = ContinuousClock.now
        let measureFrom = start + .milliseconds(Int64(self.warmup * 1000))
        let window = RunWindow(
            start: start, measureFrom: measureFrom,
            deadline: self.requests == nil ? measureFrom + .milliseconds(Int64(self.duration * 1000)) : nil,
            requestLimit: self.requests
        )
        let recorder = Recorder()
        let showProgress = self.progress ?? (isatty(2) == 1)
        let timeline = Timeline(
            recorder: recorder, start: start, progress: showProgress, file: try Timeline.open(path: self.timeline))
        let timelineTask = showProgress || self.timeline != nil ? Task { await timeline.run() } : nil

        let churnTask = churn.map { churn, client in Task { await churn.drive(client: client) } }
        // The CPU figures cover what the rate and latencies do: from the warm-up's end to the load's.
        let watched = self.cpuOf
        let cpuAtStart = Task { () -> [String: Double]? in
            do { try await Task.sleep(until: measureFrom, clock: .continuous) } catch { return nil }
            return ProcessCPU.sample(watched)
        }
        if let rate {
            await LoadShapes.openLoop(
                lanes: lanes, rate: rate, maxOutstanding: self.maxOutstanding, mix: mix, workload: workload,
                window: window, recorder: recorder)
        } else {
            await LoadShapes.closedLoop(
                lanes: lanes, inFlight: self.inFlight, mix: mix, workload: workload, window: window, recorder: recorder)
        }
        let measured = max(0.001, (ContinuousClock.now - max(measureFrom, start)).seconds)
        let cpuAtEnd = ProcessCPU.sample(watched)
        cpuAtStart.cancel()  // a load that ended within its warm-up measured nothing
        let cpuWindowStart = await cpuAtStart.value
        churn?.0.stop()
        await churnTask?.value
        if let client = churn?.1 { await client.close() }
        timelineTask?.cancel()
        await timelineTask?.value
        timeline.finish()
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
        for client in lanes.clients { await client.close() }
        for echo in lanes.echoes { await echo.close() }
        for connection in lanes.aws { await connection.close() }

        var report = Report(
            transport: self.transport, endpoint: reportedEndpoint, connections: self.connections,
            inFlight: self.rate == nil ? self.inFlight : nil, rate: self.rate, mix: mix.description,
            payload: self.payload, keys: workload.keyCount, seconds: measured, snapshot: recorder.snapshot,
            admin: churn?.0
        )
        if let cpuWindowStart {
            report.cpuMicrosPerRequest = ProcessCPU.perRequest(
                from: cpuWindowStart, to: cpuAtEnd, requests: report.requests)
        }
        print(self.json ? report.json() : report.text())
        // Administration's failures count too, over all requests sent.
        let admin = churn?.0.snapshot
        let failed = report.snapshot.failed + (admin?.failed ?? 0)
        let sent = report.requests + (admin.map { $0.succeeded + $0.failed } ?? 0)
        let errorRate = sent == 0 ? 0 : Double(failed) / Double(sent)
        if errorRate > self.maxErrorRate {
            FileHandle.standardError.write(
                Data("kms-bench: error rate \(errorRate) is above --max-error-rate \(self.maxErrorRate)\n".utf8))
            throw ExitCode(1)
        }
    }

    static func address(_ endpoint: String) throws -> SocketAddress {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]) else {
            throw ValidationError("the endpoint must be host:port")
        }
        return try SocketAddress.makeAddressResolvingHost(String(endpoint[..<colon]), port: port)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = self.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
