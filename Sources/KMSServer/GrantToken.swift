import Foundation

/// Grant tokens: an opaque string that names a grant, so that a request carrying it is judged
/// with that grant even before every kmsd's cache has seen the grant. A token confers nothing
/// by itself: the grant it names must exist and match the request.
enum GrantToken {
    static let prefix = "kmsgt1."

    static func make(grantID: String) -> String {
        prefix + Data(grantID.utf8).base64EncodedString()
    }

    static func grantID(from token: String) -> String? {
        guard token.hasPrefix(prefix), token.utf8.count <= 8192,
            let data = Data(base64Encoded: String(token.dropFirst(prefix.count))),
            let id = String(data: data, encoding: .utf8), (1...128).contains(id.utf8.count)
        else { return nil }
        return id
    }
}
