import struct Foundation.UUID

/// Multi-Region key ids (`mrk-` and 32 lowercase hex digits), and the per-region row ids of the
/// related keys that share one.
///
/// Storage design: every table keys a key by one uuid (`key_id`), and kmsd's cache, its NOTIFY
/// invalidation and every store port do too. Related multi-Region keys share their public id
/// but are separate keys (own policy, state, aliases, grants, tags), one per region, so each
/// gets its own uuid row id, derived from the public id and the region without any lookup:
/// bytes 14-15 (the "slot") of the public id hold a check value of bytes 0-13; a row id holds
/// that check value XOR a 16-bit code of its region. Byte 6's high nibble is 8 for the whole
/// family, never 4 as in the random (version 4) uuids of other keys, so ids never collide
/// across the two kinds. From either form the public id comes back by recomputing the slot, so
/// `description` of a row id prints the public `mrk-` id, and a key id text or a ciphertext
/// header (which both carry the public id) becomes a row id in the caller's region in
/// constant time: the hot path stays one cache lookup by uuid, every existing query by
/// `key_id` stays correct, and nothing joins on the public id but the few multi-Region
/// statements (table `kms_multi_region_keys`, which pairs the public id with each region).
/// The price: 16 bits of the 128 in a public `mrk-` id are a check value, not random, and two
/// served regions must not share a code (`KeyID.regionCodeClash` is checked at start).
extension KeyID {
    /// Whether the id is of a multi-Region key (its public form or a row id of one of its regions).
    public var isMultiRegion: Bool { self.uuid.uuid.6 & 0xF0 == 0x80 }

    /// A new multi-Region key's public id, for CreateKey with MultiRegion.
    public static func randomMultiRegion() -> KeyID {
        var bytes = KeyID.random().bytes
        bytes[6] = 0x80 | (bytes[6] & 0x0F)
        let check = Self.check(bytes)
        bytes[14] = UInt8(check >> 8)
        bytes[15] = UInt8(check & 0xFF)
        return KeyID(bytes: bytes)
    }

    /// The id related keys share and show (the id itself for other keys).
    public var publicID: KeyID { self.withSlot(0) }

    /// The row id of this multi-Region key in `region` (the id itself for other keys).
    public func inRegion(_ region: String) -> KeyID { self.withSlot(Self.regionCode(region)) }

    /// Whether this is the public form of a multi-Region id (what ids, ARNs and ciphertexts carry).
    var isPublicMultiRegionForm: Bool { self.isMultiRegion && self == self.publicID }

    /// Two of `regions` whose codes clash (their row ids of one key would coincide), if any.
    public static func regionCodeClash(_ regions: some Sequence<String>) -> (String, String)? {
        var seen: [UInt16: String] = [:]
        for region in Set(regions).sorted() {
            let code = Self.regionCode(region)
            if let other = seen[code] { return (other, region) }
            seen[code] = region
        }
        return nil
    }

    /// Parses `mrk-` and 32 hex digits of either case; nil unless the digits are a multi-Region
    /// id this service could have made (so that one key never has two spellings).
    init?(multiRegionText text: String) {
        guard text.utf8.count == 36, text.hasPrefix("mrk-"), let bytes = Hex.decode(text.dropFirst(4)),
            bytes.count == 16
        else { return nil }
        let id = KeyID(bytes: bytes)
        guard id.isPublicMultiRegionForm else { return nil }
        self = id
    }

    var multiRegionDescription: String { "mrk-" + Hex.encode(self.publicID.bytes) }

    private func withSlot(_ code: UInt16) -> KeyID {
        guard self.isMultiRegion else { return self }
        var bytes = self.bytes
        let slot = Self.check(bytes) ^ code
        bytes[14] = UInt8(slot >> 8)
        bytes[15] = UInt8(slot & 0xFF)
        return KeyID(bytes: bytes)
    }

    /// FNV-1a over bytes 0-13, folded to 16 bits: a format check, not a secret.
    private static func check(_ bytes: [UInt8]) -> UInt16 {
        Self.fold(Self.fnv1a(bytes.prefix(14)))
    }

    /// Never 0, which would make a row id equal to the public id.
    static func regionCode(_ region: String) -> UInt16 {
        let code = Self.fold(Self.fnv1a(region.utf8))
        return code == 0 ? 1 : code
    }

    private static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return hash
    }

    private static func fold(_ hash: UInt32) -> UInt16 { UInt16(hash >> 16) ^ UInt16(hash & 0xFFFF) }
}
