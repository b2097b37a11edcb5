import ArgumentParser
import Foundation

/// A command of an operation botocore pages (paginators-1.json): like the aws CLI, it calls the
/// operation until the last page and prints the pages' lists as one, without Truncated and
/// NextMarker, unless --no-paginate, --limit or --marker is given (awscli/customizations/paginate.py).
protocol PaginatedCommand: OperationCommand {
    var paging: PagingOptions { get }
}

/// The options the aws CLI adds to a paginated operation.
struct PagingOptions: ParsableArguments {
    @Option(help: "Items per call while the pages are followed (sent as --limit on each call).")
    var pageSize: Int?
}

enum Paging {
    /// Operation → the list member whose pages are merged (result_key in botocore's paginators-1.json).
    static let resultKeys: [String: String] = [
        "ListAliases": "Aliases", "ListGrants": "Grants", "ListKeyPolicies": "PolicyNames", "ListKeys": "Keys",
        "ListResourceTags": "Tags", "ListRetirableGrants": "Grants", "ListKeyRotations": "Rotations",
    ]

    /// Whether to follow the pages, as the aws CLI decides: not with --no-paginate, nor when the
    /// request names its own page (Limit or Marker); then --page-size is refused as the aws CLI
    /// refuses it (exit 255).
    static func follows(members: [String: Any], pageSize: Int?, global: GlobalOptions) throws -> Bool {
        let follows = !global.noPaginate && members["Limit"] == nil && members["Marker"] == nil
        if !follows, pageSize != nil {
            throw fail("Cannot specify --no-paginate along with pagination arguments: --page-size")
        }
        return follows
    }

    /// Writes what the aws CLI writes on a PaginationError; the exit status to throw.
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("\nError during pagination: \(message)\n".utf8))
        return ExitCode(255)
    }
}
