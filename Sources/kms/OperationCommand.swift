import ArgumentParser
import Foundation
import KMSClient
import KMSProto
import KMSRPC
import SwiftProtobuf

/// A subcommand that calls one operation: it builds the request's AWS JSON members from its
/// options, and prints the response the way `aws kms` does.
protocol OperationCommand: AsyncParsableCommand {
    associatedtype Request: SwiftProtobuf.Message & Sendable
    associatedtype Response: SwiftProtobuf.Message & Sendable
    static var method: RPCMethod<Request, Response> { get }
    var global: GlobalOptions { get }
    /// The request's members by AWS name; nil values are left out.
    func members() throws -> [String: Any?]
}

extension OperationCommand {
    func run() async throws {
        let members = try self.members().compactMapValues { $0 }
        let first = try Self.request(members)
        let paged = self as? any PaginatedCommand
        let resultKey = Paging.resultKeys[Self.method.name]
        let follows = try paged.map { try Paging.follows(members: members, paging: $0.paging, global: self.global) }
        let client = try self.global.makeClient()
        defer { Task { await client.close() } }
        guard let resultKey, let paged, follows == true else {
            let object = try OrderedJSON(try await self.call(client, first))
            // Like the aws CLI, an operation with an empty response prints nothing.
            if object.isEmptyObject && self.global.query == nil { return }
            print(Output.render(try self.select(object), format: self.global.output))
            return
        }
        let pages = try await Paging.follow(members, resultKey: resultKey, paging: paged.paging) { request in
            try AWSJSON.object(try await self.call(client, try Self.request(request)))
        }
        let message = AWSJSON.name(of: Response.self)
        switch self.global.output {
        case .json:
            // botocore's build_full_result: the result key alone, its pages' lists joined, and NextToken.
            var merged = OrderedJSON(
                pages.lists.isEmpty ? [:] : [resultKey: pages.lists.flatMap { $0 }], message: message)
            if let token = pages.nextToken, case .object(let members) = merged {
                merged = .object(members + [("NextToken", .scalar(token))])
            }
            if merged.isEmptyObject && self.global.query == nil { return }
            print(Output.render(try self.select(merged), format: .json))
        case .text:
            // The aws CLI's text output prints (and queries) each page as it comes, then NextToken.
            for list in pages.lists {
                print(Output.render(try self.select(OrderedJSON([resultKey: list], message: message)), format: .text))
            }
            if let token = pages.nextToken {
                let next = OrderedJSON.object([("NextToken", .object([("NextToken", .scalar(token))]))])
                if self.global.query == nil {
                    print("NEXTTOKEN\t\(token)")
                } else {
                    // What the query finds in {"NextToken": {"NextToken": ...}}; Python's None when nothing.
                    print(
                        Output.select(next, path: self.global.query).map { Output.render($0, format: .text) } ?? "None")
                }
            }
        }
    }

    private static func request(_ members: [String: Any]) throws -> Request {
        do {
            return try AWSJSON.decode(Request.self, from: members)
        } catch let error as AWSJSON.DecodingError {
            throw ValidationError(error.description)
        }
    }

    /// One call; exits 254 with the aws CLI's message when the service refuses it.
    private func call(_ client: KMSClient, _ request: Request) async throws -> Response {
        do {
            return try await client.call(Self.method, request)
        } catch {
            let message =
                "An error occurred (\(error.code)) when calling the \(Self.method.name) operation: \(error.message)\n"
            FileHandle.standardError.write(Data(message.utf8))
            throw ExitCode(254)
        }
    }

    private func select(_ object: OrderedJSON) throws -> OrderedJSON {
        guard let selected = Output.select(object, path: self.global.query) else {
            throw ValidationError("--query \(self.global.query ?? ""): no such member in the response")
        }
        return selected
    }
}
