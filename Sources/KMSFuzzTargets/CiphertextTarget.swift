import Crypto
import Foundation
import KMSCrypto
import KMSDomain

/// The symmetric ciphertext blob: the header kmsd reads from any Decrypt request to find the
/// key, then the worker's open.
///
/// Input: one byte that chooses the encryption context, then the blob. The header parses only
/// for a blob of the format and then says exactly what the blob's bytes say; open fails with
/// IncorrectKey for another key's blob and InvalidCiphertext for anything that does not
/// authenticate; what opens has the format's length and re-seals to a blob with the same header
/// that opens to the same plaintext.
enum CiphertextTarget {
    static let target = FuzzTarget(name: "ciphertext", run: run, seeds: seeds)

    static let contexts: [[String: String]] = [
        [:], ["tenant": "acme"], ["purpose": "fuzz", "tenant": "acme", "ü": "\u{0}"],
    ]

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let context = contexts[Int(input.byte()) % contexts.count]
        let blob = input.rest()

        let header: SymmetricCiphertext.Header?
        do {
            let parsed = try SymmetricCiphertext.header(of: blob)
            require(
                blob.count >= SymmetricCiphertext.overhead && blob[0] == SymmetricCiphertext.version,
                "a header parsed from a blob that is not of the format")
            require(
                FuzzKeys.uuidBytes(parsed.keyID.uuid) == Array(blob[1..<17]),
                "the header's key id is not the blob's bytes 1..<17")
            require(
                parsed.materialID.bytes == Array(blob[17..<(17 + MaterialID.byteCount)]),
                "the header's material id is not the blob's bytes")
            header = parsed
        } catch {
            require(error.code == .invalidCiphertext, "header(of:) threw \(error.code), not InvalidCiphertextException")
            require(
                blob.count < SymmetricCiphertext.overhead || blob[0] != SymmetricCiphertext.version,
                "a blob of the format was refused: \(error)")
            header = nil
        }

        let plaintext: [UInt8]
        do {
            plaintext = try SymmetricCiphertext.open(
                blob, keyID: FuzzKeys.keyID, materialID: FuzzKeys.materialID, material: FuzzKeys.material,
                encryptionContext: context
            )
        } catch {
            let expected: KMSError.Code =
                header.map { $0.keyID != FuzzKeys.keyID } == true ? .incorrectKey : .invalidCiphertext
            require(error.code == expected, "open threw \(error.code), expected \(expected)")
            return
        }
        require(
            header?.keyID == FuzzKeys.keyID && header?.materialID == FuzzKeys.materialID,
            "a blob opened whose header names another key or material")
        require(
            plaintext.count == blob.count - SymmetricCiphertext.overhead,
            "the plaintext is not the blob's length less the overhead")
        guard
            let resealed = try? SymmetricCiphertext.seal(
                plaintext, keyID: FuzzKeys.keyID, materialID: FuzzKeys.materialID, material: FuzzKeys.material,
                encryptionContext: context
            )
        else {
            require(false, "a plaintext that opened does not seal again")
            return
        }
        require((try? SymmetricCiphertext.header(of: resealed)) == header, "the re-sealed blob has another header")
        let reopened = try? SymmetricCiphertext.open(
            resealed, keyID: FuzzKeys.keyID, materialID: FuzzKeys.materialID, material: FuzzKeys.material,
            encryptionContext: context
        )
        require(reopened == plaintext, "the re-sealed blob does not open to the same plaintext")
    }

    static func seeds() -> [[UInt8]] {
        func seal(_ plaintext: String, context index: Int, keyID: KeyID = FuzzKeys.keyID) -> [UInt8] {
            [UInt8(index)]
                + (try! SymmetricCiphertext.seal(
                    Array(plaintext.utf8), keyID: keyID, materialID: FuzzKeys.materialID, material: FuzzKeys.material,
                    encryptionContext: contexts[index]
                ))
        }
        let valid = seal("attack at dawn", context: 1)
        var otherVersion = valid
        otherVersion[1] = 2
        return [
            seal("", context: 0),
            valid,
            seal(String(repeating: "4096 bytes at most. ", count: 20), context: 2),
            seal("another key's blob", context: 0, keyID: FuzzKeys.otherKeyID),
            otherVersion,
            Array(valid.prefix(SymmetricCiphertext.overhead)),
            Array(valid.prefix(SymmetricCiphertext.overhead - 1)),
        ]
    }
}
