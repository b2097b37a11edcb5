/// An IPv4 or IPv6 CIDR block (a bare address is a /32 or /128), for IpAddress/NotIpAddress.
struct IPAddressRange: Sendable, Hashable {
    let network: [UInt8]
    let prefixLength: Int

    init?(_ text: String) {
        // Empty parts kept: "" and "/" used to leave no part at all and trap on parts[0] (a
        // policy with such a value crashed the parser; found by fuzzing), and "10.0.0.0/" was
        // taken for a /32.
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.parseAddress(String(parts[0])) else { return nil }
        let maximum = address.count * 8
        let length = parts.count == 2 ? Int(parts[1]) : maximum
        guard let length, (0...maximum).contains(length) else { return nil }
        self.network = address
        self.prefixLength = length
    }

    func contains(_ address: [UInt8]) -> Bool {
        guard address.count == self.network.count else { return false }
        var remaining = self.prefixLength
        for index in 0..<address.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if address[index] & mask != self.network[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// Dotted IPv4 or colon-hex IPv6 (with ::) into network-order bytes.
    static func parseAddress(_ text: String) -> [UInt8]? {
        if text.contains(".") && !text.contains(":") {
            let octets = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
            return octets.count == 4 ? octets : nil
        }
        guard text.contains(":") else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            let values = pieces.compactMap { $0.count <= 4 ? UInt16($0, radix: 16) : nil }
            return values.count == pieces.count ? values : nil
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
