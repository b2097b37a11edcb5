import Logging

extension XKSProxyService {
    /// Loads the configuration file at `path` again and serves it from the next request on, so
    /// that access keys rotate (and keys are mapped) without a restart, as the spec asks. A
    /// file that does not load or validate changes nothing: the running configuration stays
    /// and the log says why (never a secret: only the access key ids are named). TLS settings
    /// take effect at the next start only; a change to them is logged and otherwise ignored.
    /// Returns whether the new configuration is now served.
    @discardableResult
    public func reload(path: String) -> Bool {
        var loaded: XKSProxyConfiguration
        do {
            loaded = try XKSProxyConfiguration.load(path: path)
        } catch {
            self.logger.error(
                "configuration not reloaded; the running one stays",
                metadata: ["path": "\(path)", "reason": "\(Self.short("\(error)"))"])
            return false
        }
        let running = self.configuration
        if loaded.tls != running.tls {
            self.logger.warning("tls settings changed: they take effect at the next start, not now")
            loaded.tls = running.tls
        }
        self.replace(loaded)
        self.logger.notice(
            "configuration reloaded",
            metadata: [
                "uriPath": "\(loaded.uriPath)",
                "accessKeys": "\(loaded.credentials.map(\.accessKeyId).joined(separator: ","))",
                "keys": "\(loaded.keys?.count ?? 0)",
            ])
        return true
    }
}
