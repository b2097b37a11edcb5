import KMSDomain

extension MaterialID {
    /// A valid id of `byte` repeated: fixtures tell their materials apart by one number.
    init(repeating byte: UInt8) {
        try! self.init(bytes: [UInt8](repeating: byte, count: Self.byteCount))
    }
}
