/// The AWS services that own an AWS managed key (`alias/aws/<service>`), as AWS names their
/// aliases. Only these names make a key appear on first use: a made-up service name is just an
/// alias that does not exist, so naming it costs nothing and writes nothing.
public enum AWSManagedServices {
    /// The service names AWS uses in its managed keys' aliases (`alias/aws/<name>`).
    public static let names: Set<String> = [
        "acm", "airflow", "appflow", "backup", "cloud9", "codeartifact", "codecommit", "connect", "dms", "dynamodb",
        "ebs", "ecr", "elasticfilesystem", "es", "fsx", "glue", "imagebuilder", "kafka", "kinesis", "kinesisvideo",
        "lambda", "lex", "lightsail", "mq", "opensearchservice", "personalize", "qldb", "rds", "redshift", "s3",
        "secretsmanager", "ses", "sns", "sqs", "ssm", "timestream", "transfer", "workspaces", "xray",
    ]

    /// The aliases AWS lists in every account and region before their keys exist (ListAliases
    /// shows them without a TargetKeyId, as an account that never used these services sees
    /// them), in name order. Each is one of `names`.
    public static let predefinedAliases: [String] = [
        "acm", "dynamodb", "ebs", "elasticfilesystem", "es", "glue", "kinesisvideo", "lambda", "rds", "redshift", "s3",
        "secretsmanager", "ssm", "xray",
    ].map { AliasName.reservedPrefix + $0 }

    /// The service of `alias/aws/<service>`, when it is one of `names`.
    public static func service(ofAlias aliasName: String) -> String? {
        guard aliasName.hasPrefix(AliasName.reservedPrefix) else { return nil }
        let service = String(aliasName.dropFirst(AliasName.reservedPrefix.count))
        return self.names.contains(service) ? service : nil
    }
}
