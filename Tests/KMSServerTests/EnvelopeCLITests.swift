import Foundation
import KMSTestSupport
import Testing

/// `kms envelope encrypt|decrypt` against a real stack: files round-trip under one or two keys,
/// strict and discovery, and a failure leaves no output file behind.
@Suite struct EnvelopeCLITests {
    @Test func filesRoundTripAndFailuresLeaveNoOutput() async throws {
        let stack = try await KMSStack.start()
        let env = stack.environment
        let key = try await stack.client.createKey("envelope cli").arn
        let other = try await stack.client.createKey("envelope cli, second key").arn
        let directory = stack.worker.directory
        let plain = directory.appendingPathComponent("plain.bin")
        let sealed = directory.appendingPathComponent("plain.bin.enc")
        let opened = directory.appendingPathComponent("opened.bin")
        let plaintext = Data((0..<(3 << 20) + 17).map { _ in UInt8.random(in: 0...255) })
        try plaintext.write(to: plain)

        let encrypt = try await CLITests.kms(
            [
                "envelope", "encrypt", "--key-id", key, "--key-id", other, "--input", plain.path, "--output",
                sealed.path, "--encryption-context", "purpose=test", "host=db1", "--progress",
            ], env: env)
        #expect(encrypt.status == 0, "\(encrypt.stderr)")
        #expect(encrypt.stderr.contains("] 3.0 MiB / 3.0 MiB"), "\(encrypt.stderr)")
        let message = try Data(contentsOf: sealed)
        #expect(message.count > plaintext.count)
        #expect(message.first == 0x02)

        for arguments in [["--key-id", other], ["--discovery", "--discovery-account", "111122223333"]] {
            try? FileManager.default.removeItem(at: opened)
            let decrypt = try await CLITests.kms(
                ["envelope", "decrypt"] + arguments + [
                    "--input", sealed.path, "--output", opened.path, "--encryption-context", "purpose=test",
                ], env: env)
            #expect(decrypt.status == 0, "\(arguments): \(decrypt.stderr)")
            #expect(try Data(contentsOf: opened) == plaintext)
        }

        // A context pair the message lacks, another account, a damaged byte: exit 254, no output file.
        try? FileManager.default.removeItem(at: opened)
        var damaged = message
        damaged[damaged.count / 2] ^= 1
        let damagedFile = directory.appendingPathComponent("damaged.enc")
        try damaged.write(to: damagedFile)
        for (arguments, input, says) in [
            (["--key-id", key, "--encryption-context", "purpose=prod"], sealed, "purpose=prod"),
            (["--discovery", "--discovery-account", "999999999999"], sealed, "no encrypted data key"),
            (["--key-id", key], damagedFile, "does not verify"),
        ] {
            let failed = try await CLITests.kms(
                ["envelope", "decrypt"] + arguments + ["--input", input.path, "--output", opened.path], env: env)
            #expect(failed.status == 254, "\(arguments)")
            #expect(failed.stderr.contains(says), "\(failed.stderr)")
            #expect(!FileManager.default.fileExists(atPath: opened.path))
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasSuffix(".partial")
        }
        #expect(leftovers.isEmpty)

        // The unsigned suite through standard input and output, small frames.
        let unsigned = try await runChildProcess(
            URL(fileURLWithPath: binaryPath("kms", environment: "KMS_CLI")),
            [
                "envelope", "encrypt", "--key-id", key, "--input", "-", "--output", "-", "--algorithm-suite",
                "AES_256_GCM_HKDF_SHA512_COMMIT_KEY", "--frame-length", "128",
            ], environment: env, input: Data("streamed through pipes".utf8))
        #expect(unsigned.status == 0, "\(unsigned.stderrText)")
        let back = try await CLITests.kms(
            ["envelope", "decrypt", "--key-id", key, "--input", "-", "--output", "-"], env: env, stdin: unsigned.stdout)
        #expect(back.stdout == "streamed through pipes", "\(back.stderr)")
        await stack.stop()
    }
}
