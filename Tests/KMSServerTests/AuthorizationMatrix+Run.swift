import Foundation
import Synchronization

/// A cell whose answer was not one AWS gives.
struct MatrixFailure: Sendable, CustomStringConvertible {
    let cell: MatrixCell
    let expected: [String]
    let actual: MatrixOutcome

    /// In the table's order: operation, state, actor.
    static func ordered(_ failures: [MatrixFailure]) -> [MatrixFailure] {
        let rows = Dictionary(uniqueKeysWithValues: Matrix.rows.enumerated().map { ($1.operation, $0) })
        func key(_ cell: MatrixCell) -> (Int, Int, Int, String) {
            (
                rows[cell.operation] ?? -1, cell.state.flatMap { MatrixState.allCases.firstIndex(of: $0) } ?? -1,
                MatrixActor.allCases.firstIndex(of: cell.actor) ?? -1, cell.description
            )
        }
        return failures.sorted { key($0.cell) < key($1.cell) }
    }

    var description: String {
        var text = "\(self.cell): expected \(self.expected.joined(separator: " or ")), got \(self.actual.code)"
        if !self.actual.message.isEmpty { text += " (\(self.actual.message.prefix(240)))" }
        return text
    }
}

/// The cells of one row in one state, which share one key (none, for an operation on no key).
struct MatrixGroup: Sendable {
    let row: MatrixRow
    let state: MatrixState?
    let cells: [MatrixCell]
}

extension MatrixWorld {
    /// Every cell of `rows`, grouped by the key they use; the groups whose keys are slowest to
    /// make (RSA wrapping keys for imports, then ECC keys) first, so they overlap the rest.
    /// Without `otherRegion`, the cells of a caller signed for eu-west-1 are left out.
    static func groups(_ rows: [MatrixRow], otherRegion: Bool = true) -> [MatrixGroup] {
        var groups: [MatrixGroup] = []
        for row in rows {
            let states: [MatrixState?] = row.key == nil ? [nil] : MatrixState.allCases
            for state in states {
                // Credentials are checked before anything is looked up (the binary protocol
                // refuses them at the handshake, before any request), so the key's state cannot
                // matter: one state shows them, for every operation and both protocols.
                let actors = MatrixActor.allCases.filter {
                    state == nil || state == .enabled || $0.credentialFailure(.awsJSON) == nil
                }
                var cells = actors.flatMap { actor in
                    MatrixProtocol.allCases.map {
                        MatrixCell(
                            operation: row.operation, actor: actor, state: state, transport: $0, reference: .natural)
                    }
                }
                if row.key != nil, row.namesKey {
                    // A reference that resolves nowhere is refused before the key's state is
                    // known, so one state shows it; the alias ARN finds the key, in every state.
                    for (actor, reference, transports) in MatrixReference.probes
                    where (row.acceptsAlias || !reference.needsAlias) && (state == .enabled || reference == .aliasARN)
                        && (otherRegion || reference != .callerInOtherRegion)
                    {
                        cells += transports.map {
                            MatrixCell(
                                operation: row.operation, actor: actor, state: state, transport: $0,
                                reference: reference)
                        }
                    }
                }
                groups.append(MatrixGroup(row: row, state: state, cells: cells))
            }
        }
        func cost(_ group: MatrixGroup) -> Int {
            switch group.row.key {
            case .external: 0
            case .signing, .agreement: 1
            default: 2
            }
        }
        return groups.enumerated().sorted { (cost($0.element), $0.offset) < (cost($1.element), $1.offset) }.map(
            \.element)
    }

    /// Runs every group, making its key first; returns the cells that failed, and the setups
    /// that failed (a group whose key could not be made runs no cell). A group's cells run
    /// concurrently unless its row writes the key; after a success that changed the key's
    /// state, the admin puts the key back before the next cell.
    func run(_ groups: [MatrixGroup], concurrency: Int) async -> (failures: [MatrixFailure], setupErrors: [String]) {
        let failures = Mutex<[MatrixFailure]>([])
        let setupErrors = Mutex<[String]>([])
        await forEachConcurrently(groups, limit: concurrency) { group in
            var fixture = MatrixFixture()
            if let state = group.state {
                do {
                    fixture = try await self.fixture(
                        for: group.row, state: state, cells: group.cells, aliased: group.row.acceptsAlias)
                } catch {
                    setupErrors.withLock {
                        $0.append("setting up \(group.row.operation) in \(state.rawValue): \(error)")
                    }
                    return
                }
            }
            let ready = fixture
            @Sendable func run(_ cell: MatrixCell) async -> MatrixOutcome {
                let request = group.row.build(ready, ready.target(for: cell))
                let caller = cell.reference == .callerInOtherRegion ? self.adminInOtherRegion : self.party(cell.actor)
                if group.row.makesRSAKey { await self.rsaGate.acquire() }
                let outcome = await caller.call(request, via: cell.transport)
                if group.row.makesRSAKey { await self.rsaGate.release() }
                let expected = group.row.expected(cell)
                if !expected.contains(outcome.code) {
                    failures.withLock { $0.append(MatrixFailure(cell: cell, expected: expected, actual: outcome)) }
                }
                return outcome
            }
            guard group.row.serial else {
                await forEachConcurrently(group.cells, limit: 8) { _ = await run($0) }
                return
            }
            for cell in group.cells {
                guard await run(cell).succeeded, group.row.changesKeyState else { continue }
                do {
                    try await self.restore(ready, to: group.state!)
                } catch {
                    setupErrors.withLock {
                        $0.append(
                            "restoring \(group.row.operation)'s key to \(group.state!.rawValue) after \(cell): \(error)"
                        )
                    }
                    return
                }
            }
        }
        return (failures.withLock { $0 }, setupErrors.withLock { $0 })
    }
}
