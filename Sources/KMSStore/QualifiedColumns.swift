/// A store's comma-separated column list with each column taken from `source` (a table alias,
/// or a composite value such as `(w.key)`), for statements that join tables sharing names.
func qualified(_ columns: String, by source: String) -> String {
    columns.split(separator: ",").map { "\(source)." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .joined(separator: ", ")
}
