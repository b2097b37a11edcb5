import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SocketAddress {
    /// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) carries, with the same
    /// port; any other address unchanged.
    ///
    /// A dual-stack listener (`[::]:port`) sees its IPv4 clients in this form. Left as it is,
    /// an `aws:SourceIp` condition on `10.0.0.0/8` would never match them (and a Deny on it
    /// would never apply), and the audit log would name them in a form nobody searches for.
    public var unmappingIPv4: SocketAddress {
        guard case .v6(let address) = self else { return self }
        let bytes = withUnsafeBytes(of: address.address.sin6_addr) { Array($0) }
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF else {
            return self
        }
        var ipv4 = sockaddr_in()
        ipv4.sin_family = sa_family_t(AF_INET)
        ipv4.sin_port = address.address.sin6_port
        withUnsafeMutableBytes(of: &ipv4.sin_addr) { $0.copyBytes(from: bytes[12..<16]) }
        let dotted = "\(bytes[12]).\(bytes[13]).\(bytes[14]).\(bytes[15])"
        return SocketAddress(ipv4, host: dotted)
    }
}
