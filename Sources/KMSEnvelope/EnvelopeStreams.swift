extension EnvelopeEncryption {
    /// Encrypts a stream of plaintext chunks into a stream of message chunks, in memory bounded
    /// by a frame and a chunk: nothing is read ahead of what the consumer asks for. The pairs of
    /// `requiredEncryptionContextKeys` are bound to the message but not stored in it.
    public func encrypt<Base: AsyncSequence>(
        _ chunks: Base, encryptionContext: [String: String] = [:], requiredEncryptionContextKeys: Set<String> = []
    ) -> EncryptingSequence<Base> where Base.Element == [UInt8] {
        EncryptingSequence(
            base: chunks, envelope: self, encryptionContext: encryptionContext,
            requiredEncryptionContextKeys: requiredEncryptionContextKeys)
    }

    /// Decrypts a stream of message chunks into a stream of plaintext chunks. Unsigned suites
    /// yield each frame's plaintext once its tag verifies, in memory bounded by a frame and a
    /// chunk; a stream that is cut short or damaged later fails then, after the frames before.
    /// Signed suites yield nothing until the signature at the end verifies, holding up to
    /// `Configuration.maxSignedPlaintextLength` bytes and failing past it. The two contexts are
    /// checked as `decrypt(_:requiredEncryptionContext:reproducedEncryptionContext:)` checks them.
    public func decrypt<Base: AsyncSequence>(
        _ chunks: Base, requiredEncryptionContext: [String: String] = [:],
        reproducedEncryptionContext: [String: String] = [:]
    ) -> DecryptingSequence<Base> where Base.Element == [UInt8] {
        DecryptingSequence(
            base: chunks, envelope: self, requiredEncryptionContext: requiredEncryptionContext,
            reproducedEncryptionContext: reproducedEncryptionContext)
    }
}

/// The message chunks of a stream of plaintext chunks
/// (`EnvelopeEncryption.encrypt(_:encryptionContext:requiredEncryptionContextKeys:)`).
public struct EncryptingSequence<Base: AsyncSequence>: AsyncSequence where Base.Element == [UInt8] {
    /// A chunk of the message.
    public typealias Element = [UInt8]
    let base: Base
    let envelope: EnvelopeEncryption
    let encryptionContext: [String: String]
    let requiredEncryptionContextKeys: Set<String>

    /// Reads the plaintext as message chunks are asked for.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            base: self.base.makeAsyncIterator(), envelope: self.envelope, context: self.encryptionContext,
            requiredKeys: self.requiredEncryptionContextKeys)
    }

    /// Pulls plaintext until it has message bytes to give.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let envelope: EnvelopeEncryption
        let context: [String: String]
        let requiredKeys: Set<String>
        var encryptor: MessageEncryptor?
        var finished = false

        /// The next chunk of the message; nil after its last, and after an error.
        public mutating func next() async throws -> [UInt8]? {
            do {
                return try await self.step()
            } catch {
                self.finished = true
                throw error
            }
        }

        private mutating func step() async throws -> [UInt8]? {
            while !self.finished {
                if self.encryptor == nil {
                    self.encryptor = try await self.envelope.startEncryption(
                        self.context, requiredKeys: self.requiredKeys, plaintextLength: nil)
                }
                guard let chunk = try await self.base.next(isolation: #isolation) else {
                    self.finished = true
                    return try self.encryptor!.finish()
                }
                let output = try self.encryptor!.update(chunk)
                if !output.isEmpty { return output }
            }
            return nil
        }
    }
}

/// The plaintext chunks of a stream of message chunks
/// (`EnvelopeEncryption.decrypt(_:requiredEncryptionContext:reproducedEncryptionContext:)`).
public struct DecryptingSequence<Base: AsyncSequence>: AsyncSequence where Base.Element == [UInt8] {
    /// A chunk of plaintext.
    public typealias Element = [UInt8]
    let base: Base
    let envelope: EnvelopeEncryption
    let requiredEncryptionContext: [String: String]
    let reproducedEncryptionContext: [String: String]

    /// Reads the message as plaintext chunks are asked for.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            base: self.base.makeAsyncIterator(), envelope: self.envelope, required: self.requiredEncryptionContext,
            reproduced: self.reproducedEncryptionContext)
    }

    /// Pulls message bytes until it has plaintext to give.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let envelope: EnvelopeEncryption
        let required: [String: String]
        let reproduced: [String: String]
        var headerBytes: [UInt8] = []
        var decryptor: MessageDecryptor?
        /// A signed message's plaintext, until the signature verifies.
        var held: [UInt8] = []
        var finished = false

        /// The header, once read: the message's encryption context and keys.
        public var header: MessageHeader? { self.decryptor?.header }

        /// The next chunk of plaintext; nil after the last, once the whole message has verified,
        /// and after an error (the held plaintext is dropped).
        public mutating func next() async throws -> [UInt8]? {
            do {
                return try await self.step()
            } catch {
                self.finished = true
                self.held = []
                throw error
            }
        }

        private mutating func step() async throws -> [UInt8]? {
            let configuration = self.envelope.configuration
            while !self.finished {
                guard var chunk = try await self.base.next(isolation: #isolation) else {
                    self.finished = true
                    guard let decryptor = self.decryptor else {
                        throw EnvelopeError.malformedMessage("the message is truncated inside its header")
                    }
                    try decryptor.finish()
                    defer { self.held = [] }
                    return self.held.isEmpty ? nil : self.held
                }
                if self.decryptor == nil {
                    self.headerBytes += chunk
                    guard
                        let (header, length) = try MessageHeader.parse(
                            self.headerBytes, maxEncryptedDataKeys: configuration.maxEncryptedDataKeys)
                    else {
                        guard self.headerBytes.count <= configuration.maxHeaderLength else {
                            throw EnvelopeError.malformedMessage(
                                "a header longer than \(configuration.maxHeaderLength) bytes")
                        }
                        continue
                    }
                    self.decryptor = try await self.envelope.startDecryption(
                        header, requiredEncryptionContext: self.required, reproducedEncryptionContext: self.reproduced)
                    chunk = Array(self.headerBytes[length...])
                    self.headerBytes = []
                }
                let plaintext = try self.decryptor!.update(chunk)
                if self.decryptor!.header.suite.isSigned {
                    self.held += plaintext
                    guard self.held.count <= configuration.maxSignedPlaintextLength else {
                        throw EnvelopeError.signedPlaintextTooLarge(limit: configuration.maxSignedPlaintextLength)
                    }
                } else if !plaintext.isEmpty {
                    return plaintext
                }
            }
            return nil
        }
    }
}
