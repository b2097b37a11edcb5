/// One fuzz target: a parser, driven with arbitrary bytes, and the properties its results must
/// have. `run` returns when every property holds and stops the process (`precondition`) when
/// one does not, so that libFuzzer reports the input; any error a parser is documented to throw
/// for bad input is an expected outcome, anything else is a finding.
///
/// The same functions run three ways: under libFuzzer with AddressSanitizer (`Fuzz/`,
/// `scripts/fuzz`), over the committed corpus and every kept crash in the ordinary test suite
/// (`KMSFuzzTargetsTests`), and to write the seed corpus (`seeds`).
public struct FuzzTarget: Sendable {
    /// The name of the target and of its corpus and regression folders (`Fuzz/corpus/<name>/`).
    public let name: String
    /// Checks the target's properties on one input; stops the process when one does not hold.
    public let run: @Sendable (UnsafeRawBufferPointer) -> Void
    /// Meaningful starting inputs, built from real frames, blobs, policies and headers.
    public let seeds: @Sendable () -> [[UInt8]]

    /// A target; `all` lists the ones that exist.
    public init(
        name: String, run: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
        seeds: @escaping @Sendable () -> [[UInt8]]
    ) {
        self.name = name
        self.run = run
        self.seeds = seeds
    }

    /// Runs the target on a byte array (the tests' and the seed writer's way in).
    public func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { self.run($0) }
    }

    /// Every target, in the order scripts/fuzz runs them.
    public static let all: [FuzzTarget] = [
        FrameDecoderTarget.target,
        ProtobufTarget.target,
        AWSJSONTarget.target,
        CiphertextTarget.target,
        WrappedMaterialTarget.target,
        RootKeyringTarget.target,
        ImportTokenTarget.target,
        PolicyTarget.target,
        SigV4Target.target,
        KeyReferenceTarget.target,
        AuditSegmentTarget.target,
        EnvelopeMessageTarget.target,
    ]

    /// The target called `name` (as `scripts/fuzz` and `Fuzz/` name it), or nil when there is none.
    public static func named(_ name: String) -> FuzzTarget? {
        all.first { $0.name == name }
    }
}

/// A fuzz input taken apart front to back: a target reads the few bytes that choose a mode,
/// then the rest as the parser's input, so that libFuzzer's mutations of either stay local.
struct FuzzInput {
    private var bytes: ArraySlice<UInt8>

    init(_ raw: UnsafeRawBufferPointer) {
        self.bytes = Array(raw)[...]
    }

    var isEmpty: Bool { self.bytes.isEmpty }

    /// The next byte, or 0 past the end.
    mutating func byte() -> UInt8 {
        self.bytes.popFirst() ?? 0
    }

    /// Everything not yet read.
    mutating func rest() -> [UInt8] {
        defer { self.bytes = [] }
        return Array(self.bytes)
    }

    /// The bytes up to the next newline (which is consumed), or the rest.
    mutating func line() -> String {
        if let newline = self.bytes.firstIndex(of: 0x0A) {
            defer { self.bytes = self.bytes[(newline + 1)...] }
            return String(decoding: self.bytes[..<newline], as: UTF8.self)
        }
        return String(decoding: self.rest(), as: UTF8.self)
    }
}

/// Stops the fuzzer with `message` unless `condition` holds; named so that a target reads as
/// the list of its properties.
@inline(__always)
func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        fatalError("property violated: \(message())", file: file, line: line)
    }
}
