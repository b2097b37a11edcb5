import ArgumentParser
import Foundation

/// Argument forms shared by the commands, as the aws CLI spells them.
enum ArgumentValues {
    /// A blob argument: fileb://PATH (raw bytes), file://PATH (its text), - (standard input), or
    /// the literal string's UTF-8 bytes.
    static func blob(_ text: String, option: String) throws -> Data {
        if text == "-" {
            return FileHandle.standardInput.readDataToEndOfFile()
        }
        for prefix in ["fileb://", "file://"] where text.hasPrefix(prefix) {
            let path = String(text.dropFirst(prefix.count))
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("\(option): cannot read \(path)")
            }
            return data
        }
        return Data(text.utf8)
    }

    /// An encryption context: JSON ({"k":"v"}) or the shorthand k=v,k2=v2.
    static func context(_ text: String?, option: String) throws -> [String: String]? {
        guard let text else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("{") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: String] else {
                throw ValidationError("\(option) must be a JSON object of strings or k=v,k2=v2")
            }
            return object
        }
        var context: [String: String] = [:]
        for pair in trimmed.split(separator: ",", omittingEmptySubsequences: true) {
            guard let equals = pair.firstIndex(of: "=") else {
                throw ValidationError("\(option): '\(pair)' is not key=value")
            }
            context[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return context
    }

    /// A Recipient (a Nitro enclave's attestation) in the aws CLI's shorthand,
    /// KeyEncryptionAlgorithm=RSAES_OAEP_SHA_256,AttestationDocument=fileb://PATH, or JSON.
    static func recipient(_ text: String?, option: String) throws -> [String: Any]? {
        guard let text else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var fields: [String: String] = [:]
        if trimmed.hasPrefix("{") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: String] else {
                throw ValidationError("\(option) must be KeyEncryptionAlgorithm=..,AttestationDocument=fileb://PATH")
            }
            fields = object
        } else {
            for pair in trimmed.split(separator: ",") {
                guard let equals = pair.firstIndex(of: "=") else {
                    throw ValidationError("\(option): '\(pair)' is not Name=value")
                }
                fields[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
        }
        var recipient: [String: Any] = [:]
        if let algorithm = fields["KeyEncryptionAlgorithm"] { recipient["KeyEncryptionAlgorithm"] = algorithm }
        if let document = fields["AttestationDocument"] {
            recipient["AttestationDocument"] = try Self.blob(document, option: option).base64EncodedString()
        }
        return recipient
    }

    /// A timestamp as the aws CLI takes it: epoch seconds, or ISO 8601 (a date, or a date and
    /// time with or without fractional seconds; no zone means UTC). The result is AWS JSON's
    /// form, epoch seconds.
    static func timestamp(_ text: String, option: String) throws -> NSNumber {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), seconds.isFinite { return NSNumber(value: seconds) }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        let date: ISO8601DateFormatter.Options = [.withFullDate, .withDashSeparatorInDate]
        let local: ISO8601DateFormatter.Options = date.union([.withTime, .withColonSeparatorInTime])
        let forms: [ISO8601DateFormatter.Options] = [
            [.withInternetDateTime, .withFractionalSeconds], .withInternetDateTime,
            local.union(.withFractionalSeconds), local, date,
        ]
        for form in forms {
            formatter.formatOptions = form
            if let date = formatter.date(from: trimmed) { return NSNumber(value: date.timeIntervalSince1970) }
        }
        throw ValidationError("\(option) must be ISO 8601 (e.g. 2027-01-31T00:00:00Z) or epoch seconds")
    }
}
