import Foundation

/// Errors of fine-tuning and evaluation tasks, each naming the file, line, field, flag or task at
/// fault, so a bad task file is rejected before any training starts.
public enum TaskError: Error, CustomStringConvertible, Equatable {
    /// An unknown task name, pattern id or task setting.
    case unknownTask(String)
    /// A data file that cannot be used: `file`, the 1-based `line` (nil for the whole file) and why.
    case data(file: String, line: Int?, message: String)
    /// A pattern, verbaliser or layout that does not fit the task or the tokenizer.
    case pattern(String)
    /// A setting (flag or config field) outside its range.
    case setting(String)

    public var description: String {
        switch self {
        case let .unknownTask(m): return "task: \(m)"
        case let .data(file, line, m): return line.map { "\(file):\($0): \(m)" } ?? "\(file): \(m)"
        case let .pattern(m): return "pattern: \(m)"
        case let .setting(m): return m
        }
    }
}
