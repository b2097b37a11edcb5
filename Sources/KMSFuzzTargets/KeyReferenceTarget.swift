import KMSDomain
import KMSPolicy

/// Key references (every request's KeyId), KMS ARNs, alias names and principal ARNs: the small
/// parsers that run on every request before authorization.
///
/// Input: one byte (bit 0: accept only key ids and key ARNs), then the text. KeyReference.parse
/// throws only ValidationException (length) or NotFoundException, never for a well-formed id or
/// ARN; a key id comes out lowercase and valid; an ARN's text form parses to the same ARN; an
/// alias is refused where only keys are accepted. Alias name validation and the principal ARN
/// check never crash and agree with their rules.
enum KeyReferenceTarget {
    static let target = FuzzTarget(name: "key-reference", run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let accepted: KeyReference.Accepted = input.byte() & 1 == 0 ? .keyOrAlias : .keyOnly
        let text = String(decoding: input.rest(), as: UTF8.self)

        if let arn = KMSResourceARN(text) {
            require(KMSResourceARN(arn.description) == arn, "the ARN \(arn.description) does not parse back to itself")
            if case .key(let id) = arn.resource {
                require(
                    KeyID(id.description) == id.publicID && id.description == id.description.lowercased(),
                    "a key ARN's id does not write as a lowercase key id")
            }
        }
        do {
            let reference = try KeyReference.parse(text, accepting: accepted)
            require(!text.isEmpty && text.utf8.count <= 2048, "a reference of \(text.utf8.count) bytes was accepted")
            require(accepted == .keyOrAlias || !reference.isAlias, "an alias was accepted where only keys are")
            switch reference {
            case .keyID(let id):
                require(id.description == text.lowercased(), "the key id \(id) is not the text's lowercase form")
            case .keyARN(let arn), .aliasARN(let arn):
                require(KMSResourceARN(text) == arn, "the reference's ARN is not the text's")
            case .aliasName(let name):
                require(name == text && name.hasPrefix("alias/"), "the alias name is not the text")
            }
        } catch {
            require(
                error.code == .validation || error.code == .notFound || error.code == .invalidArn,
                "KeyReference.parse threw \(error.code)")
            if error.code == .validation {
                require(text.isEmpty || text.utf8.count > 2048, "a reference of valid length was refused as too long")
            }
            require(!(KeyID.isValid(text) && text.utf8.count <= 2048), "a valid key id was refused")
        }

        for creating in [false, true] {
            do {
                try AliasName.validate(text, creating: creating)
                require(
                    text.hasPrefix("alias/") && text.utf8.count > 6 && text.utf8.count <= 256,
                    "the alias name \(text.prefix(64)) was accepted")
                require(
                    !creating || !text.hasPrefix(AliasName.reservedPrefix),
                    "a reserved alias name was accepted for creation")
            } catch {
                require(
                    error.code == .validation || error.code == .invalidAliasName,
                    "AliasName.validate threw \(error.code)")
            }
        }
        if PolicyDocument.isPrincipalARN(text) {
            require(
                text.hasPrefix("arn:") && (text.contains(":iam::") || text.contains(":sts::")),
                "\(text.prefix(64)) was taken for a principal ARN")
        }
    }

    static func seeds() -> [[UInt8]] {
        [
            "0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11",
            "0B9B1BD8-5A6B-4D3C-9D33-1F7F7E3A5E11",
            "arn:aws:kms:us-east-1:111122223333:key/0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11",
            "arn:aws-cn:kms:cn-north-1:111122223333:alias/app/prod",
            "alias/aws/ebs",
            "alias/app-1_x",
            "arn:aws:iam::111122223333:role/app",
            "arn:aws:sts::111122223333:assumed-role/app/session",
            "arn:aws:kms:us-east-1:11112222333:key/0b9b1bd8-5a6b-4d3c-9d33-1f7f7e3a5e11",
        ].enumerated().map { index, text in [UInt8(index % 2)] + Array(text.utf8) }
    }
}
