import Foundation
import KMSRPC

/// An access key, found the way the aws CLI finds one: AWS_ACCESS_KEY_ID and
/// AWS_SECRET_ACCESS_KEY, else the profile (AWS_PROFILE, else "default") of the shared
/// credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials).
public struct KMSCredentials: Sendable, Hashable {
    /// The access key's id, sent in the clear to name the key.
    public let accessKeyID: String
    /// The secret; never sent, only used to prove possession in answer to the server's challenge.
    public let secretAccessKey: String

    /// An access key given directly rather than found.
    public init(accessKeyID: String, secretAccessKey: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
    }

    /// Nil when none is configured. Throws when a profile was asked for by name and is missing.
    public static func resolve(
        profile: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KMSClientError) -> KMSCredentials? {
        if profile == nil, let id = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"],
            !id.isEmpty, !secret.isEmpty
        {
            return KMSCredentials(accessKeyID: id, secretAccessKey: secret)
        }
        let named = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        let path =
            environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.aws/credentials")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            if let named {
                throw KMSClientError(
                    code: "ProfileNotFound",
                    message: "The config profile (\(named)) could not be found: no credentials file at \(path)",
                    retryable: false)
            }
            return nil
        }
        let profiles = Self.parse(text)
        let wanted = named ?? "default"
        guard let values = profiles[wanted], let id = values["aws_access_key_id"],
            let secret = values["aws_secret_access_key"]
        else {
            if named != nil {
                throw KMSClientError(
                    code: "ProfileNotFound", message: "The config profile (\(wanted)) could not be found in \(path)",
                    retryable: false)
            }
            return nil
        }
        return KMSCredentials(accessKeyID: id, secretAccessKey: secret)
    }

    /// The INI form of ~/.aws/credentials: [profile] sections of key = value lines; # and ; comments.
    static func parse(_ text: String) -> [String: [String: String]] {
        var profiles: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            profiles[current, default: [:]][key] = value
        }
        return profiles
    }

    /// The answer to a server's challenge under these credentials.
    public func answer(_ challenge: RPCChallenge) -> RPCAuthenticate {
        var answer = RPCAuthenticate()
        answer.accessKeyID = self.accessKeyID
        answer.proof = Data(
            RPCAccessKeyProof.proof(
                secret: Array(self.secretAccessKey.utf8), nonce: [UInt8](challenge.nonce), accessKeyID: self.accessKeyID
            ))
        return answer
    }
}
