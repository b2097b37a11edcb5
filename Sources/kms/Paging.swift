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

    @Option(help: "Print at most this many items, and a NextToken for --starting-token if more are left.")
    var maxItems: Int?

    @Option(help: "The NextToken of a listing cut short by --max-items: go on from there.")
    var startingToken: String?
}

/// What the pages hold once followed.
struct Pages {
    /// Each page's list (the result key's), as printed.
    var lists: [[Any]] = []
    /// Where a listing cut short by --max-items goes on, as botocore encodes it.
    var nextToken: String?
}

enum Paging {
    /// Operation → the list member whose pages are merged (result_key in botocore's paginators-1.json).
    static let resultKeys: [String: String] = [
        "ListAliases": "Aliases", "ListGrants": "Grants", "ListKeyPolicies": "PolicyNames", "ListKeys": "Keys",
        "ListResourceTags": "Tags", "ListRetirableGrants": "Grants", "ListKeyRotations": "Rotations",
        "DescribeCustomKeyStores": "CustomKeyStores",
    ]

    /// Whether to follow the pages, as the aws CLI decides: not with --no-paginate, nor when the
    /// request names its own page (Limit or Marker); then the paging options are refused as the
    /// aws CLI refuses them (exit 255).
    static func follows(members: [String: Any], paging: PagingOptions, global: GlobalOptions) throws -> Bool {
        let follows = !global.noPaginate && members["Limit"] == nil && members["Marker"] == nil
        // The aws CLI counts the options whose values Python finds true (not 0, not "").
        var given: [String] = []
        if let token = paging.startingToken, !token.isEmpty { given.append("--starting-token") }
        if let size = paging.pageSize, size != 0 { given.append("--page-size") }
        if let items = paging.maxItems, items != 0 { given.append("--max-items") }
        if !follows, !given.isEmpty {
            throw fail("Cannot specify --no-paginate along with pagination arguments: \(given.joined(separator: ", "))")
        }
        if let maxItems = paging.maxItems, maxItems <= 0 {
            FileHandle.standardError.write(
                Data("warning: Non-positive values for --max-items may result in undefined behavior.\n".utf8))
        }
        return follows
    }

    /// Calls until the last page or --max-items, as botocore's PageIterator does: Limit is
    /// --page-size, each next Marker the page's NextMarker while Truncated; a starting token
    /// names a Marker and how many items of its page were already printed.
    static func follow(
        _ members: [String: Any], resultKey: String, paging: PagingOptions,
        call: ([String: Any]) async throws -> [String: Any]
    ) async throws -> Pages {
        var request = members
        var marker: Any = NSNull()
        var skip = 0
        if let startingToken = paging.startingToken {
            (marker, skip) = self.parse(startingToken)
            if let text = marker as? String, text != "None" {
                request["Marker"] = text
            } else {
                request["Marker"] = nil
            }
        }
        if let pageSize = paging.pageSize { request["Limit"] = pageSize }
        var pages = Pages()
        var total = 0
        var previous: String?
        while true {
            let page = try await call(request)
            var list = page[resultKey] as? [Any]
            if skip > 0 { list = list.map { Array($0.dropFirst(skip)) } }
            let count = list?.count ?? 0
            if let maxItems = paging.maxItems, total + count > maxItems {
                let keep = maxItems - total
                // Python's list[:keep], which counts a negative keep from the end.
                pages.lists.append(Array((list ?? []).prefix(keep >= 0 ? keep : max(0, count + keep))))
                pages.nextToken = self.token(marker: marker, truncateAmount: keep + skip)
                return pages
            }
            if let list { pages.lists.append(list) }
            total += count
            skip = 0
            guard page["Truncated"] as? Bool == true, let next = page["NextMarker"] as? String, !next.isEmpty else {
                return pages
            }
            if let maxItems = paging.maxItems, total == maxItems {
                pages.nextToken = self.token(marker: next, truncateAmount: nil)
                return pages
            }
            if next == previous { throw fail("The same next token was received twice: {'Marker': '\(next)'}") }
            request["Marker"] = next
            marker = next
            previous = next
        }
    }

    /// botocore's token: base64 of json.dumps({"Marker": ..., "boto_truncate_amount": n}).
    static func token(marker: Any, truncateAmount: Int?) -> String {
        var json = "{\"Marker\": " + ((marker as? String).map(pythonJSON) ?? "null")
        if let truncateAmount { json += ", \"boto_truncate_amount\": \(truncateAmount)" }
        return Data((json + "}").utf8).base64EncodedString()
    }

    /// A starting token's Marker (a string, or NSNull) and the items of its page to skip;
    /// botocore's older `MARKER___INDEX` form, or any other text as the Marker itself, too.
    static func parse(_ token: String) -> (marker: Any, skip: Int) {
        if let data = Data(base64Encoded: token),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            return (object["Marker"] ?? NSNull(), (object["boto_truncate_amount"] as? Int) ?? 0)
        }
        let parts = token.components(separatedBy: "___")
        if parts.count == 2, let index = Int(parts[1]) {
            return (parts[0] == "None" ? NSNull() : parts[0], index)
        }
        return (token, 0)
    }

    /// A JSON string as Python's json.dumps writes it by default (ensure_ascii).
    static func pythonJSON(_ text: String) -> String {
        var out = ""
        for unit in Output.quoted(text).utf16 {
            out += unit < 0x7F ? String(UnicodeScalar(unit)!) : String(format: "\\u%04x", unit)
        }
        return out
    }

    /// Writes what the aws CLI writes on a PaginationError; the exit status to throw.
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("\nError during pagination: \(message)\n".utf8))
        return ExitCode(255)
    }
}
