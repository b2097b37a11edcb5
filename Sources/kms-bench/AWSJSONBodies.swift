import KMSProto
import SwiftProtobuf

/// The workload's requests as AWS JSON bodies, encoded once before the run, so the measured
/// loop only signs and sends them (as a service reusing its request objects would).
struct AWSJSONBodies: Sendable {
    private let targets: [[Operation: [UInt8]]]
    private let signers: [[Operation: [UInt8]]]
    private let macs: [[Operation: [UInt8]]]
    private let random: [UInt8]
    private let createKey: [UInt8]

    init(_ workload: Workload) throws {
        func encode(_ message: some SwiftProtobuf.Message) throws -> [UInt8] { Array(try AWSJSON.data(message)) }
        self.targets = try workload.targets.map { target in
            [
                .encrypt: try encode(target.encrypt), .decrypt: try encode(target.decrypt),
                .generateDataKey: try encode(target.generateDataKey),
                .generateDataKeyWithoutPlaintext: try encode(target.generateDataKeyWithoutPlaintext),
                .reEncrypt: try encode(target.reEncrypt),
            ]
        }
        self.signers = try workload.signers.map { [.sign: try encode($0.sign), .verify: try encode($0.verify)] }
        self.macs = try workload.macs.map {
            [.generateMac: try encode($0.generate), .verifyMac: try encode($0.verify)]
        }
        self.random = try encode(workload.random)
        self.createKey = try encode(workload.createKey)
    }

    /// The body of `operation` on the `index`th key of its kind (nil: the workload has none).
    func body(_ operation: Operation, target index: Int) -> [UInt8]? {
        func pick(_ table: [[Operation: [UInt8]]]) -> [UInt8]? {
            table.isEmpty ? nil : table[index % table.count][operation]
        }
        switch operation.keyKind {
        case .encryption: return pick(self.targets)
        case .signing: return pick(self.signers)
        case .mac: return pick(self.macs)
        case .none:
            switch operation {
            case .generateRandom: return self.random
            case .createKey: return self.createKey
            default: return nil
            }
        }
    }
}
