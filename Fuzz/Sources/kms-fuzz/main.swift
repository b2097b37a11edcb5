// The libFuzzer executable for every target of KMSFuzzTargets (README "Fuzzing"):
//
//     kms-fuzz TARGET [libFuzzer flags] [corpus folders]
//     kms-fuzz --list
//     kms-fuzz --write-seeds FOLDER      (FOLDER/<target>/<sha1>: the committed seed corpus)
//
// One executable rather than one per target: each link of the sanitized dependencies takes
// tens of seconds, and the targets share all of them. libFuzzer's own main runs (the file is
// compiled with -parse-as-library); LLVMFuzzerInitialize takes the target's name out of the
// arguments before libFuzzer reads them and puts it in KMS_FUZZ_TARGET, which is where it is
// read from, so that the processes libFuzzer starts itself (-fork, -jobs, -merge) run the same
// target.
import Foundation
import KMSFuzzTargets

nonisolated(unsafe) var selected: FuzzTarget?

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("kms-fuzz: \(message)\n".utf8))
    exit(2)
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    let count = Int(argc.pointee)
    let arguments = (0..<count).map { String(cString: argv.pointee![$0]!) }
    switch arguments.dropFirst().first {
    case "--list":
        print(FuzzTarget.all.map(\.name).joined(separator: "\n"))
        exit(0)
    case "--write-seeds":
        guard arguments.count == 3 else { fail("usage: kms-fuzz --write-seeds FOLDER") }
        do {
            for target in FuzzTarget.all {
                let written = try target.writeSeeds(
                    to: URL(fileURLWithPath: arguments[2]).appendingPathComponent(target.name))
                print("\(target.name): \(written) new seed(s)")
            }
        } catch {
            fail("\(error)")
        }
        exit(0)
    case let name? where !name.hasPrefix("-") && FuzzTarget.named(name) != nil:
        setenv("KMS_FUZZ_TARGET", name, 1)
        // Drop argv[1]: libFuzzer would take it for a corpus folder.
        for index in 1..<(count - 1) { argv.pointee![index] = argv.pointee![index + 1] }
        argv.pointee![count - 1] = nil
        argc.pointee -= 1
    default:
        break
    }
    guard let name = ProcessInfo.processInfo.environment["KMS_FUZZ_TARGET"], let target = FuzzTarget.named(name) else {
        fail("name a target first (or set KMS_FUZZ_TARGET): \(FuzzTarget.all.map(\.name).joined(separator: ", "))")
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected!.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
