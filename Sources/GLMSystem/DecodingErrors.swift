import Foundation

/// A `DecodingError` as a person reads it: the field's full path and what was wrong, e.g.
/// `field "num_layers": expected an integer (…)` instead of "The data couldn't be read because it
/// isn't in the correct format".
public func describeDecodingError(_ error: Error) -> String {
    func path(_ ctx: DecodingError.Context, _ extra: CodingKey? = nil) -> String {
        let keys = ctx.codingPath + (extra.map { [$0] } ?? [])
        return keys.map { k in k.intValue.map { "[\($0)]" } ?? k.stringValue }
            .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }
    switch error {
    case let DecodingError.keyNotFound(key, ctx):
        return "missing field \"\(path(ctx, key))\""
    case let DecodingError.typeMismatch(type, ctx):
        return "field \"\(path(ctx))\": expected \(typeName(type)) (\(ctx.debugDescription))"
    case let DecodingError.valueNotFound(type, ctx):
        return "field \"\(path(ctx))\": expected \(typeName(type)), found null"
    case let DecodingError.dataCorrupted(ctx):
        if ctx.codingPath.isEmpty {
            let underlying = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return "not valid JSON (\(underlying ?? ctx.debugDescription))"
        }
        return "field \"\(path(ctx))\": \(ctx.debugDescription)"
    default:
        return "\(error)"
    }
}

private func typeName(_ t: Any.Type) -> String {
    switch t {
    case is Int.Type, is Int32.Type, is Int64.Type, is UInt64.Type, is UInt32.Type: return "an integer"
    case is Float.Type, is Double.Type: return "a number"
    case is Bool.Type: return "true or false"
    case is String.Type: return "a string"
    default: return "\(t)"
    }
}

/// `JSONDecoder().decode`, with errors that name the field even where Foundation's do not.
///
/// swift-corelibs-foundation reports a number that does not fit the field's type (`"num_layers": 2.5`,
/// `"vocab_size": 1e30`) as "The given data was not valid JSON", with no field. When that happens
/// and the text is valid JSON, each number that is not an exact 64-bit integer is replaced in turn
/// by 0; the one whose replacement changes the outcome is the culprit, reported as a type mismatch
/// at its path (`field "num_layers": expected an integer, found 2.5`).
public func decodeJSON<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
    do { return try JSONDecoder().decode(type, from: data) } catch let DecodingError.dataCorrupted(ctx) where ctx.codingPath.isEmpty {
        let original = DecodingError.dataCorrupted(ctx)
        let tree: Any
        do { tree = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: text, underlyingError: error))
        }
        for (path, value) in nonIntegerNumbers(tree, path: []).prefix(256) {
            guard let patched = try? JSONSerialization.data(withJSONObject: replacing(tree, at: path[...], with: 0),
                                                            options: [.fragmentsAllowed]) else { continue }
            do { _ = try JSONDecoder().decode(type, from: patched) } catch let DecodingError.dataCorrupted(c) where c.codingPath.isEmpty {
                continue  // still the same kind of failure: not this number
            } catch {}
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: path.map(JSONKey.init),
                                                             debugDescription: "found \(value), which is not an integer in range"))
        }
        throw original
    }
}

/// A coding key built from a JSON path component.
private struct JSONKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue; intValue = nil }
    init(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
    init(_ component: JSONPathComponent) {
        switch component {
        case .key(let k): self.init(stringValue: k)
        case .index(let i): self.init(intValue: i)
        }
    }
}

private enum JSONPathComponent { case key(String), index(Int) }

/// Paths of numbers that are not exact Int64 values (fractions, 1e30), depth-first, iteratively.
private func nonIntegerNumbers(_ root: Any, path: [JSONPathComponent]) -> [([JSONPathComponent], String)] {
    var out: [([JSONPathComponent], String)] = []
    var work: [(Any, [JSONPathComponent])] = [(root, path)]
    while let (v, p) = work.popLast() {
        if let d = v as? [String: Any] {
            for k in d.keys.sorted().reversed() { work.append((d[k]!, p + [.key(k)])) }
        } else if let a = v as? [Any] {
            for (i, x) in a.enumerated().reversed() { work.append((x, p + [.index(i)])) }
        } else if let n = v as? NSNumber, Int64(exactly: n.doubleValue) == nil {
            out.append((p, "\(n)"))
        }
    }
    return out
}

private func replacing(_ tree: Any, at path: ArraySlice<JSONPathComponent>, with value: Any) -> Any {
    guard let first = path.first else { return value }
    switch first {
    case .key(let k):
        guard var d = tree as? [String: Any], let child = d[k] else { return tree }
        d[k] = replacing(child, at: path.dropFirst(), with: value)
        return d
    case .index(let i):
        guard var a = tree as? [Any], i < a.count else { return tree }
        a[i] = replacing(a[i], at: path.dropFirst(), with: value)
        return a
    }
}
