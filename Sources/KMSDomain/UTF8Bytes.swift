extension StringProtocol {
    /// Calls `body` with the text's UTF-8 bytes in one buffer: in place for a native string (the
    /// only kind kmsd makes or receives from NIO), else from a copy. The standard library's
    /// generic algorithms over `utf8` (`contains(where:)`, `firstIndex(of:)`, `elementsEqual`)
    /// went through the view's index one byte at a time, unspecialized across modules: most of
    /// SigV4's cost per AWS JSON request.
    @inlinable
    public func withUTF8Bytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let result = try self.utf8.withContiguousStorageIfAvailable(body) { return result }
        return try Array(self.utf8).withUnsafeBufferPointer(body)
    }
}
