import ArgumentParser
import Foundation
import GLMData
import GLMSystem
import GLMTrain

/// Checks of numbers given as flags, run by swift-argument-parser's `validate()` before a command
/// does anything: every size from a flag is positive where it must be, finite, and within a stated
/// limit, so `--lr inf`, `--batch-size 0` or `--start 4611686018427387904` fail with a message
/// naming the flag instead of an encoding error, a precondition failure or an overflow trap.
enum FlagCheck {
    static func positive(_ flag: String, _ value: Int?, max: Int = Int.max) throws {
        guard let value else { return }
        guard value > 0 else { throw ValidationError("\(flag) must be a positive integer, got \(value)") }
        guard value <= max else { throw ValidationError("\(flag) is \(value), above the supported \(max)") }
    }

    static func nonNegative(_ flag: String, _ value: Int?, max: Int = Int.max) throws {
        guard let value else { return }
        guard value >= 0 else { throw ValidationError("\(flag) must be 0 or more, got \(value) (write \(flag)=\(value) only for flags that take negative numbers)") }
        guard value <= max else { throw ValidationError("\(flag) is \(value), above the supported \(max)") }
    }

    static func positiveFinite(_ flag: String, _ value: Double?) throws {
        guard let value else { return }
        guard value.isFinite, value > 0 else { throw ValidationError("\(flag) must be a finite number greater than 0, got \(value)") }
    }

    static func nonNegativeFinite(_ flag: String, _ value: Double?) throws {
        guard let value else { return }
        guard value.isFinite, value >= 0 else { throw ValidationError("\(flag) must be a finite number ≥ 0, got \(value)") }
    }

    /// Sequence lengths: far above any GLM's positions, low enough to be allocatable.
    static let maxSequenceLength = 1 << 20
    /// Sequences per batch.
    static let maxBatchSize = 1 << 16
}

extension PretrainCommand {
    func validate() throws {
        try FlagCheck.positiveFinite("--lr", lr)
        try FlagCheck.positiveFinite("--time-limit", timeLimit)
        try FlagCheck.positive("--steps", steps, max: TrainConfig.Limits.steps)
        try FlagCheck.positive("--batch-size", batchSize, max: TrainConfig.Limits.batchSize)
        try FlagCheck.positive("--grad-accum", gradAccum, max: TrainConfig.Limits.gradientAccumulation)
        try FlagCheck.positive("--seq-length", seqLength, max: FlagCheck.maxSequenceLength)
        try FlagCheck.positive("--save-every", saveEvery)
        try FlagCheck.positive("--eval-every", evalEvery)
        try FlagCheck.positive("--keep", keep)
    }
}

extension BatchesCommand {
    func validate() throws {
        try FlagCheck.positive("--batch-size", batchSize, max: FlagCheck.maxBatchSize)
        try FlagCheck.positive("--seq-length", seqLength, max: FlagCheck.maxSequenceLength)
        try FlagCheck.nonNegative("--count", count)
        try FlagCheck.nonNegative("--start", start)
        do { try BatchLoader.checkRange(first: start, count: count, batchSize: batchSize) } catch let e as GLMDataError {
            throw ValidationError("\(e)")
        }
        // Every sample's JSON line is kept until the file is written: about 64 bytes per token.
        if let bytes = CheckedSize.product([count, batchSize, seqLength, 64]) {
            do { try SystemMemory.require(bytes, for: "\(count) batches of \(batchSize) × \(seqLength) tokens") } catch let e as SystemError {
                throw ValidationError("\(e)")
            }
        } else {
            throw ValidationError("--count \(count) × --batch-size \(batchSize) × --seq-length \(seqLength) tokens is more than can be counted")
        }
    }
}

extension PrepareCommand {
    func validate() throws {
        try FlagCheck.positive("--workers", workers, max: 4096)
        try FlagCheck.positive("--shard-tokens", shardTokens)
    }
}

extension GLMCommand {
    /// "--lr -1" reads "-1" as an option; the parser's "Missing value" error then gets this hint.
    static func negativeNumberHint(_ arguments: [String]) -> String? {
        for (flag, value) in zip(arguments, arguments.dropFirst())
        where flag.hasPrefix("--") && !flag.contains("=") && value.count > 1 && value.hasPrefix("-")
            && Double(value) != nil {
            return "to pass a negative number, attach it with '=': \(flag)=\(value)"
        }
        return nil
    }
}
