/// An IPv4 or IPv6 CIDR block (a bare address is a /32 or /128), for IpAddress/NotIpAddress.
struct IPAddressRange: Sendable, Hashable {
    let network: [UInt8]
    let prefixLength: Int

    init?(_ text: String) {
        // Split by hand: "".split(separator:) is empty, and indexing it trapped on a policy
        // value of "" or "/", taking the server down from PutKeyPolicy.
        let slash = text.firstIndex(of: "/")
        guard let address = Self.parseAddress(String(text[..<(slash ?? text.endIndex)])) else { return nil }
        let maximum = address.count * 8
        var length = maximum
        if let slash {
            let digits = text[text.index(after: slash)...]
            guard (1...3).contains(digits.count), digits.allSatisfy(\.isASCIIDigit), let parsed = Int(digits) else {
                return nil
            }
            length = parsed
        }
        guard (0...maximum).contains(length) else { return nil }
        self.network = address
        self.prefixLength = length
    }

    /// Whether `address` (4 or 16 bytes) is in the block. An IPv4-mapped IPv6 address
    /// (::ffff:a.b.c.d, how a dual-stack listener sees an IPv4 client) is the IPv4 address it
    /// maps, so a condition on 10.0.0.0/8 matches it and one on ::ffff:10.0.0.0/104 matches
    /// 10.1.2.3; any other IPv6 address never matches an IPv4 block.
    func contains(_ address: [UInt8]) -> Bool {
        let candidate: [UInt8]
        switch (self.network.count, address.count) {
        case (4, 16):
            guard address.starts(with: Self.mappedPrefix) else { return false }
            candidate = Array(address[12...])
        case (16, 4):
            candidate = Self.mappedPrefix + address
        default:
            candidate = address
        }
        guard candidate.count == self.network.count else { return false }
        var remaining = self.prefixLength
        for index in 0..<candidate.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if candidate[index] & mask != self.network[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// ::ffff:0:0/96, the IPv4-mapped IPv6 addresses.
    static let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]

    /// Dotted IPv4 or colon-hex IPv6 (with :: and an optional dotted IPv4 tail) into
    /// network-order bytes.
    static func parseAddress(_ text: String) -> [UInt8]? {
        if !text.contains(":") { return parseIPv4(Substring(text)) }
        var hex = Substring(text)
        var tail: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseIPv4(text[text.index(after: lastColon)...]) else { return nil }
            tail = v4
            // Keep the colon when it is half of a "::", so "::1.2.3.4" still reads as compressed.
            let keep = lastColon > text.startIndex && text[text.index(before: lastColon)] == ":"
            hex = text[..<(keep ? text.index(after: lastColon) : lastColon)]
        }
        let groupCount = 8 - tail.count / 2
        let halves = hex.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            let values = pieces.compactMap {
                (1...4).contains($0.count) && $0.allSatisfy(\.isHexDigit) ? UInt16($0, radix: 16) : nil
            }
            return values.count == pieces.count ? values : nil
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let rest = groups(halves[1]), head.count + rest.count < groupCount else { return nil }
            all += Array(repeating: 0, count: groupCount - head.count - rest.count) + rest
        }
        guard all.count == groupCount else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } + tail
    }

    private static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let octets = parts.compactMap { (1...3).contains($0.count) && $0.allSatisfy(\.isASCIIDigit) ? UInt8($0) : nil }
        return octets.count == 4 && parts.count == 4 ? octets : nil
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
