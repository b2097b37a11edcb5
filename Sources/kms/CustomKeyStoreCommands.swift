import ArgumentParser
import Foundation
import KMSProto
import KMSRPC

struct CreateCustomKeyStore: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-custom-key-store",
        abstract: "Create a custom key store (EXTERNAL_KEY_STORE: keys backed by an external key manager's XKS proxy).",
        discussion:
            "The store starts DISCONNECTED; connect-custom-key-store connects it. Only PUBLIC_ENDPOINT connectivity "
            + "is served, and AWS_CLOUDHSM stores are not yet. Needs kms:CreateCustomKeyStore from an identity policy.")
    static let method = KMSMethod.createCustomKeyStore
    @OptionGroup var global: GlobalOptions
    @Option(help: "A name unique in the account and region.") var customKeyStoreName: String
    @Option(help: "EXTERNAL_KEY_STORE, or AWS_CLOUDHSM (AWS's default; not served yet).") var customKeyStoreType:
        String?
    @Option(help: "The proxy's https://host[:port].") var xksProxyUriEndpoint: String?
    @Option(help: "The proxy's path, e.g. /kms/xks/v1 or /example/prefix/kms/xks/v1.") var xksProxyUriPath: String?
    @Option(help: "PUBLIC_ENDPOINT (VPC_ENDPOINT_SERVICE is not served).") var xksProxyConnectivity: String?
    @Option(help: "AccessKeyId=ID,RawSecretAccessKey=SECRET (or the same as JSON): what kmsd signs proxy calls with.")
    var xksProxyAuthenticationCredential: String?
    @Option(help: "AWS_CLOUDHSM only.") var cloudHsmClusterId: String?
    @Option(help: "AWS_CLOUDHSM only (file://PATH reads it from a file).") var trustAnchorCertificate: String?
    @Option(help: "AWS_CLOUDHSM only.") var keyStorePassword: String?
    @Option(help: "VPC_ENDPOINT_SERVICE only.") var xksProxyVpcEndpointServiceName: String?
    @Option(help: "VPC_ENDPOINT_SERVICE only.") var xksProxyVpcEndpointServiceOwner: String?

    func members() throws -> [String: Any?] {
        [
            "CustomKeyStoreName": customKeyStoreName, "CustomKeyStoreType": customKeyStoreType,
            "XksProxyUriEndpoint": xksProxyUriEndpoint, "XksProxyUriPath": xksProxyUriPath,
            "XksProxyConnectivity": xksProxyConnectivity,
            "XksProxyAuthenticationCredential": try ArgumentValues.proxyCredential(
                xksProxyAuthenticationCredential, option: "--xks-proxy-authentication-credential"),
            "CloudHsmClusterId": cloudHsmClusterId,
            "TrustAnchorCertificate": try trustAnchorCertificate.map {
                String(decoding: try ArgumentValues.blob($0, option: "--trust-anchor-certificate"), as: UTF8.self)
            },
            "KeyStorePassword": keyStorePassword,
            "XksProxyVpcEndpointServiceName": xksProxyVpcEndpointServiceName,
            "XksProxyVpcEndpointServiceOwner": xksProxyVpcEndpointServiceOwner,
        ]
    }
}

struct DescribeCustomKeyStores: PaginatedCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe-custom-key-stores",
        abstract: "Show the custom key stores of the account and region (never their proxies' secrets).")
    static let method = KMSMethod.describeCustomKeyStores
    @OptionGroup var global: GlobalOptions
    @OptionGroup var paging: PagingOptions
    @Option(help: "Only this store (not with --custom-key-store-name).") var customKeyStoreId: String?
    @Option(help: "Only the store of this name (not with --custom-key-store-id).") var customKeyStoreName: String?
    @Option(help: "Stores per page, 1..1000 (default 100).") var limit: Int?
    @Option(help: "NextMarker of the previous page.") var marker: String?

    func members() throws -> [String: Any?] {
        [
            "CustomKeyStoreId": customKeyStoreId, "CustomKeyStoreName": customKeyStoreName, "Limit": limit,
            "Marker": marker,
        ]
    }
}

struct UpdateCustomKeyStore: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "update-custom-key-store",
        abstract: "Change a custom key store's name, proxy path or credential (any time) or proxy endpoint "
            + "(while DISCONNECTED).")
    static let method = KMSMethod.updateCustomKeyStore
    @OptionGroup var global: GlobalOptions
    @Option(help: "The store's id (cks-...).") var customKeyStoreId: String
    @Option(help: "Its new name.") var newCustomKeyStoreName: String?
    @Option(help: "The proxy's new https://host[:port] (only while DISCONNECTED).") var xksProxyUriEndpoint: String?
    @Option(help: "The proxy's new path.") var xksProxyUriPath: String?
    @Option(help: "PUBLIC_ENDPOINT (only while DISCONNECTED).") var xksProxyConnectivity: String?
    @Option(help: "AccessKeyId=ID,RawSecretAccessKey=SECRET (or the same as JSON).")
    var xksProxyAuthenticationCredential: String?
    @Option(help: "AWS_CLOUDHSM only.") var keyStorePassword: String?
    @Option(help: "AWS_CLOUDHSM only.") var cloudHsmClusterId: String?
    @Option(help: "VPC_ENDPOINT_SERVICE only.") var xksProxyVpcEndpointServiceName: String?
    @Option(help: "VPC_ENDPOINT_SERVICE only.") var xksProxyVpcEndpointServiceOwner: String?

    func members() throws -> [String: Any?] {
        [
            "CustomKeyStoreId": customKeyStoreId, "NewCustomKeyStoreName": newCustomKeyStoreName,
            "XksProxyUriEndpoint": xksProxyUriEndpoint, "XksProxyUriPath": xksProxyUriPath,
            "XksProxyConnectivity": xksProxyConnectivity,
            "XksProxyAuthenticationCredential": try ArgumentValues.proxyCredential(
                xksProxyAuthenticationCredential, option: "--xks-proxy-authentication-credential"),
            "KeyStorePassword": keyStorePassword, "CloudHsmClusterId": cloudHsmClusterId,
            "XksProxyVpcEndpointServiceName": xksProxyVpcEndpointServiceName,
            "XksProxyVpcEndpointServiceOwner": xksProxyVpcEndpointServiceOwner,
        ]
    }
}

struct DeleteCustomKeyStore: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-custom-key-store",
        abstract: "Delete a custom key store: it must be DISCONNECTED and hold no KMS keys.")
    static let method = KMSMethod.deleteCustomKeyStore
    @OptionGroup var global: GlobalOptions
    @Option(help: "The store's id (cks-...).") var customKeyStoreId: String

    func members() throws -> [String: Any?] { ["CustomKeyStoreId": customKeyStoreId] }
}

struct ConnectCustomKeyStore: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect-custom-key-store",
        abstract: "Connect a custom key store to what backs it; describe-custom-key-stores shows how it went.")
    static let method = KMSMethod.connectCustomKeyStore
    @OptionGroup var global: GlobalOptions
    @Option(help: "The store's id (cks-...).") var customKeyStoreId: String

    func members() throws -> [String: Any?] { ["CustomKeyStoreId": customKeyStoreId] }
}

struct DisconnectCustomKeyStore: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "disconnect-custom-key-store",
        abstract: "Disconnect a custom key store: its keys become Unavailable until it is connected again.")
    static let method = KMSMethod.disconnectCustomKeyStore
    @OptionGroup var global: GlobalOptions
    @Option(help: "The store's id (cks-...).") var customKeyStoreId: String

    func members() throws -> [String: Any?] { ["CustomKeyStoreId": customKeyStoreId] }
}

extension ArgumentValues {
    /// XksProxyAuthenticationCredential in the aws CLI's shorthand,
    /// AccessKeyId=ID,RawSecretAccessKey=SECRET, or JSON.
    static func proxyCredential(_ text: String?, option: String) throws -> [String: Any]? {
        guard let text else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var fields: [String: String] = [:]
        if trimmed.hasPrefix("{") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: String] else {
                throw ValidationError("\(option) must be AccessKeyId=..,RawSecretAccessKey=..")
            }
            fields = object
        } else {
            for pair in trimmed.split(separator: ",") {
                guard let equals = pair.firstIndex(of: "=") else {
                    // Never echo the pair: it may be the secret.
                    throw ValidationError("\(option) must be AccessKeyId=..,RawSecretAccessKey=..")
                }
                fields[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
        }
        return fields
    }
}
