import Foundation
import GLMNN
import GLMTensor

/// One input batch in the JSON form of `glm logits` (and of the PyTorch reference's fixtures):
/// `input_ids [b][s]`, `position_ids [b][2][s]`, `attention_mask` (a sep per sample, one scalar
/// sep, or an explicit 0/1 mask `[b][1][s][s]`), optional `targets [b][s]` and `loss_mask [b][s]`.
public struct ParityCase: Sendable {
    public var inputIds: [[Int32]]
    public var positionIds: [[[Int32]]]
    public var mask: AttentionMask
    public var targets: [[Int32]]?
    public var lossMask: [[Float]]?

    public var batch: Int { inputIds.count }
    public var length: Int { inputIds.first?.count ?? 0 }

    /// Parses and shape-checks a case object; errors name the field (and `source`).
    public init(json object: Any, source: String = "input") throws {
        func fail(_ m: String) -> GLMError { .invalidInput("\(source): \(m)") }
        guard let obj = object as? [String: Any] else { throw fail("expected a JSON object") }
        func ints2(_ key: String) throws -> [[Int32]] {
            guard let a = obj[key] as? [[Any]] else { throw fail("\"\(key)\" must be a [batch][seq] array of integers") }
            return try a.map { row in try row.map { v in
                guard let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 2e9 else {
                    throw fail("\"\(key)\" holds a non-integer value \(v)")
                }
                return n.int32Value
            } }
        }
        inputIds = try ints2("input_ids")
        let b = inputIds.count
        guard b > 0, let s = inputIds.first?.count, s > 0, inputIds.allSatisfy({ $0.count == s }) else {
            throw fail("\"input_ids\" must be a non-empty rectangular [batch][seq] array")
        }
        guard let p = obj["position_ids"] as? [[[Any]]], p.count == b,
              p.allSatisfy({ $0.count == 2 && $0.allSatisfy { $0.count == s } }) else {
            throw fail("\"position_ids\" must be [\(b)][2][\(s)]")
        }
        positionIds = try p.map { try $0.map { try $0.map { v in
            guard let n = v as? NSNumber else { throw fail("\"position_ids\" holds a non-number \(v)") }
            return n.int32Value
        } } }
        switch obj["attention_mask"] {
        case let n as NSNumber:
            mask = .separators([Int32](repeating: n.int32Value, count: b))
        case let list as [NSNumber]:
            guard list.count == b else { throw fail("\"attention_mask\" has \(list.count) separators for batch \(b)") }
            mask = .separators(list.map(\.int32Value))
        case let nested as [[[[Any]]]]:
            let flat = nested.flatMap { $0.flatMap { $0.flatMap { $0 } } }.compactMap { ($0 as? NSNumber)?.floatValue }
            guard nested.count == b, flat.count == b * s * s else {
                throw fail("explicit \"attention_mask\" must be [\(b)][1][\(s)][\(s)]")
            }
            mask = .explicit(try Tensor(flat, shape: [b, 1, s, s]))
        default:
            throw fail("\"attention_mask\" must be a list of separators (one per sample), a number, or [b][1][s][s]")
        }
        if let sep = obj["attention_mask"] as? [NSNumber], let bad = sep.first(where: { $0.intValue < 0 || $0.intValue > s }) {
            throw fail("separator \(bad) in \"attention_mask\" is outside [0, \(s)] (sequence length \(s))")
        }
        if obj["targets"] != nil {
            let t = try ints2("targets")
            guard t.count == b, t.allSatisfy({ $0.count == s }) else { throw fail("\"targets\" must be [\(b)][\(s)]") }
            targets = t
            guard let lm = obj["loss_mask"] as? [[NSNumber]], lm.count == b, lm.allSatisfy({ $0.count == s }) else {
                throw fail("\"loss_mask\" must be [\(b)][\(s)] when \"targets\" is given")
            }
            lossMask = lm.map { $0.map(\.floatValue) }
        }
    }

    /// Reads a case from a JSON file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw GLMError.io(url.path, "cannot read: \(error.localizedDescription)") }
        let obj: Any
        do { obj = try JSONSerialization.jsonObject(with: data) } catch {
            throw GLMError.invalidInput("\(url.path): not valid JSON (\(error.localizedDescription))")
        }
        try self.init(json: obj, source: url.path)
    }

    public func inputTensor() throws -> Tensor { try Tensor(int32: inputIds.flatMap { $0 }, shape: [batch, length]) }
    public func positionTensor() throws -> Tensor {
        try Tensor(int32: positionIds.flatMap { $0.flatMap { $0 } }, shape: [batch, 2, length])
    }
}

extension GLMModel {
    /// What `glm logits` computes for `case`, in eval mode: `logits [b, s, V]`, and with targets
    /// `loss` (Σ CE·mask / Σ mask) and, with `grads`, `grad.<official key>` for every parameter.
    public func parity(_ c: ParityCase, grads: Bool) throws -> [String: TensorData] {
        let wasTraining = training
        training = false
        defer { training = wasTraining }
        let ids = try c.inputTensor(), pos = try c.positionTensor()
        var out: [String: TensorData] = [:]
        let v = config.vocabSize
        let logits = try Autograd.withNoGrad { try self(inputIds: ids, positionIds: pos, mask: c.mask) }
        out["logits"] = TensorData(dtype: .f32, shape: [c.batch, c.length, v], floats: logits.toArray())
        guard let t = c.targets, let lm = c.lossMask else { return out }
        let tT = try Tensor(int32: t.flatMap { $0 }, shape: [c.batch, c.length])
        let mT = try Tensor(lm.flatMap { $0 }, shape: [c.batch, c.length])
        if grads {
            store.zeroGrad()
            let loss = try self.loss(inputIds: ids, positionIds: pos, mask: c.mask, targets: tT, lossMask: mT)
            try loss.backward()
            out["loss"] = TensorData(dtype: .f32, shape: [], floats: [loss.item])
            for p in store.parameters {
                out["grad." + p.name] = TensorData(dtype: .f32, shape: p.shape,
                                                   floats: p.grad.toArray())
            }
        } else {
            let loss = try Autograd.withNoGrad {
                try self.loss(inputIds: ids, positionIds: pos, mask: c.mask, targets: tT, lossMask: mT)
            }
            out["loss"] = TensorData(dtype: .f32, shape: [], floats: [loss.item])
        }
        return out
    }
}
