extension RPCEnvelope {
    /// True when the envelope carries an error rather than a payload.
    public var isError: Bool {
        if case .error = self.body { return true }
        return false
    }
}

extension RPCError {
    init(_ body: RPCErrorBody) {
        self.init(code: body.code, message: body.message, retryable: body.retryable)
    }
}
