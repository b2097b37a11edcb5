import Foundation
import KMSCrypto
import KMSDomain

/// The import token that ImportKeyMaterial sends back (client-controlled bytes that reach the
/// worker).
///
/// Input: the token. Opening fails with InvalidImportToken or ExpiredImportToken; a token that
/// opens is unexpired, and re-sealing its terms and key gives a token with the same header that
/// opens to the same terms and key.
enum ImportTokenTarget {
    static let target = FuzzTarget(name: "import-token", run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        let token = Array(data)
        let opened: (token: ImportToken, wrappingKey: PrivateKey)
        do {
            opened = try ImportToken.open(token, keyARN: FuzzKeys.keyARN, keyring: FuzzKeys.keyring, now: FuzzKeys.now)
        } catch {
            require([.invalidImportToken, .expiredImportToken].contains(error.code), "open threw \(error.code)")
            return
        }
        let terms = opened.token
        require(terms.validTo > FuzzKeys.now, "an expired token opened")
        let headerLength = 1 + 8 + 1 + terms.algorithm.rawValue.utf8.count + 1 + terms.spec.rawValue.utf8.count
        let resealed = terms.seal(opened.wrappingKey, keyARN: FuzzKeys.keyARN, under: FuzzKeys.keyring.newest)
        require(resealed.prefix(headerLength) == token.prefix(headerLength), "the re-sealed token has another header")
        guard
            let again = try? ImportToken.open(
                resealed, keyARN: FuzzKeys.keyARN, keyring: FuzzKeys.keyring, now: FuzzKeys.now)
        else {
            require(false, "the re-sealed token does not open")
            return
        }
        require(
            again.token.validTo == terms.validTo && again.token.algorithm == terms.algorithm
                && again.token.spec == terms.spec,
            "the re-sealed token has other terms")
        require(
            again.wrappingKey.publicKeyDER == opened.wrappingKey.publicKeyDER, "the re-sealed token holds another key")
    }

    static func seeds() -> [[UInt8]] {
        let key = try! PrivateKey.generate(.rsa2048)
        func token(_ days: Double, _ algorithm: WrappingAlgorithm, under root: RootKey = FuzzKeys.keyring.newest)
            -> [UInt8]
        {
            ImportToken(validTo: FuzzKeys.now.addingTimeInterval(days * 86_400), algorithm: algorithm, spec: .rsa2048)
                .seal(key, keyARN: FuzzKeys.keyARN, under: root)
        }
        return [
            token(1, .rsaAesKeyWrapSha256),
            token(1, .rsaesOaepSha1, under: FuzzKeys.rootKeys[0]),
            token(-1, .rsaesOaepSha256),
            token(1, .rsaAesKeyWrapSha1, under: FuzzKeys.retiredRoot),
        ]
    }
}
