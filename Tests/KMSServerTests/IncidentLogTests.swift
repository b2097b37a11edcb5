import Testing

@testable import KMSServer

/// A failure repeated by every call is logged once when it starts, then once per interval with
/// the count it did not log, and once when it is over.
@Suite struct IncidentLogTests {
    @Test func oneLineWhenItStartsOnePerIntervalAndOneWhenItEnds() async throws {
        let incidents = IncidentLog(interval: .milliseconds(200))
        var lines: [Int] = []
        var ended: [Int] = []
        incidents.succeeded { _, unlogged in ended.append(unlogged) }
        #expect(ended.isEmpty, "no incident was open")
        for _ in 0..<50 { incidents.failed { lines.append($0) } }
        #expect(lines == [0], "the first failure only")
        try await Task.sleep(for: .milliseconds(250))
        incidents.failed { lines.append($0) }
        #expect(lines == [0, 49], "one line after the interval, with the 49 not logged")
        incidents.failed { lines.append($0) }
        incidents.succeeded { _, unlogged in ended.append(unlogged) }
        incidents.succeeded { _, unlogged in ended.append(unlogged) }
        #expect(ended == [1], "one line when it is over, once")
        incidents.failed { lines.append($0) }
        #expect(lines == [0, 49, 0], "a new incident starts with a line of its own")
    }
}
