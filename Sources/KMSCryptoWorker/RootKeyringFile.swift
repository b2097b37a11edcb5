import KMSCrypto
import KMSDomain

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads and writes the root keyring file. The file is the only place root keys live at rest:
/// it must be a regular file owned by this user and closed to group and others (mode 0600 or
/// 0400); anything looser is refused rather than "fixed", because the keys may already be out.
public enum RootKeyringFile {
    /// Reads and decodes the keyring, refusing a file that is not regular, not this user's, open to group
    /// or others, over 1 MiB, or a symbolic link. Throws `WorkerSetupError`.
    public static func load(path: String) throws -> RootKeyring {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw WorkerSetupError(description: "cannot open root keyring \(path): \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw WorkerSetupError(description: "cannot stat \(path): \(errnoText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw WorkerSetupError(description: "root keyring \(path) is not a regular file")
        }
        guard info.st_uid == geteuid() else {
            throw WorkerSetupError(
                description: "root keyring \(path) belongs to uid \(info.st_uid), not to this user (uid \(geteuid()))")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw WorkerSetupError(
                description:
                    "root keyring \(path) has mode \(String(mode, radix: 8)); it must not be open to group or others "
                    + "(use mode 600 or 400)"
            )
        }
        guard info.st_size <= 1 << 20 else { throw WorkerSetupError(description: "root keyring \(path) is too large") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        defer { zeroize(&bytes) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw WorkerSetupError(description: "cannot read \(path): \(errnoText())") }
            done += n
        }
        do {
            return try RootKeyringEncoding.decode(bytes)
        } catch {
            throw WorkerSetupError(description: "root keyring \(path): \(error.message)")
        }
    }

    /// Writes a new keyring file; refuses to overwrite an existing one.
    public static func create(path: String, keyring: RootKeyring) throws {
        try write(keyring, to: path, flags: O_CREAT | O_EXCL)
        try syncDirectory(of: path)
    }

    /// Replaces an existing keyring atomically (a new file, then rename), so a crash leaves
    /// either the old keyring or the new one, never half of one.
    public static func replace(path: String, keyring: RootKeyring) throws {
        let temporary = "\(path).new-\(getpid())"
        try write(keyring, to: temporary, flags: O_CREAT | O_EXCL)
        guard rename(temporary, path) == 0 else {
            let text = errnoText()
            unlink(temporary)
            throw WorkerSetupError(description: "cannot replace \(path): \(text)")
        }
        try syncDirectory(of: path)
    }

    private static func write(_ keyring: RootKeyring, to path: String, flags: Int32) throws {
        let fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | flags, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST {
                throw WorkerSetupError(description: "\(path) already exists; refusing to overwrite a root keyring")
            }
            throw WorkerSetupError(description: "cannot create \(path): \(errnoText())")
        }
        defer { close(fd) }
        var bytes = RootKeyringEncoding.encode(keyring)
        defer { zeroize(&bytes) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw WorkerSetupError(description: "cannot write \(path): \(errnoText())") }
            done += n
        }
        guard fsync(fd) == 0 else { throw WorkerSetupError(description: "cannot sync \(path): \(errnoText())") }
    }

    private static func syncDirectory(of path: String) throws {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = fsync(fd)
    }
}

/// A worker cannot start or its keyring cannot be used; the description says why and what to do.
public struct WorkerSetupError: Error, CustomStringConvertible {
    /// What went wrong and what to do about it, for the operator; never key material.
    public let description: String
}

func errnoText() -> String {
    String(cString: strerror(errno))
}
