#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A restricted unpickler for the pickles inside PyTorch checkpoints.
///
/// Python's pickle format is a small stack machine whose `GLOBAL` + `REDUCE` opcodes call arbitrary
/// functions — a checkpoint from the internet can run `os.system`. This unpickler never calls
/// anything: it builds a value tree, resolves every global against an allow-list the moment the
/// opcode is read (refusing the file for anything else), and interprets the few allowed callables
/// itself (`OrderedDict()`, `torch._utils._rebuild_tensor_v2(...)`, …). Objects that official
/// checkpoints carry outside the state dict (numpy RNG state, argparse namespaces) are allowed only
/// as inert placeholders whose constructor is never run.

/// Element types of torch storages (`torch.FloatStorage` …), including the ones ``DType`` lacks.
enum StorageDType: String {
    case f32, f16, bf16, f64, i64, i32, i16, i8, u8, bool

    var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
}

/// A global the unpickler accepts, with how it is interpreted.
enum AllowedGlobal {
    case orderedDict
    case rebuildTensorV2        // (storage, offset, size, stride, requires_grad, hooks[, metadata])
    case rebuildTensor          // (storage, offset, size, stride): torch < 1.?, legacy files
    case rebuildParameter       // (data, requires_grad, hooks)
    case rebuildParameterWithState  // (data, requires_grad, hooks, state)
    case rebuildFromType        // (func, type, args, state): tensors carrying Python attributes
    case storageType(StorageDType)
    case torchDType(String)
    case torchSize
    case codecsEncode           // how protocol 2 pickles `bytes`: _codecs.encode(str, "latin1")
    case inert(String)          // never called: its result is an opaque placeholder

    static let table: [String: AllowedGlobal] = {
        var t: [String: AllowedGlobal] = [
            "collections.OrderedDict": .orderedDict,
            "torch._utils._rebuild_tensor_v2": .rebuildTensorV2,
            "torch._utils._rebuild_tensor": .rebuildTensor,
            "torch._utils._rebuild_parameter": .rebuildParameter,
            "torch._utils._rebuild_parameter_with_state": .rebuildParameterWithState,
            "torch._tensor._rebuild_from_type_v2": .rebuildFromType,
            "torch.Size": .torchSize,
            "_codecs.encode": .codecsEncode,
            "torch.FloatStorage": .storageType(.f32),
            "torch.HalfStorage": .storageType(.f16),
            "torch.BFloat16Storage": .storageType(.bf16),
            "torch.DoubleStorage": .storageType(.f64),
            "torch.LongStorage": .storageType(.i64),
            "torch.IntStorage": .storageType(.i32),
            "torch.ShortStorage": .storageType(.i16),
            "torch.CharStorage": .storageType(.i8),
            "torch.ByteStorage": .storageType(.u8),
            "torch.BoolStorage": .storageType(.bool),
            "torch.UntypedStorage": .storageType(.u8),
        ]
        for d in ["float32", "float", "float16", "half", "bfloat16", "float64", "double", "int64", "long",
                  "int32", "int", "int16", "int8", "uint8", "bool"] {
            t["torch.\(d)"] = .torchDType(d)
        }
        // Extras of official (Megatron-style) checkpoints: RNG states and the run's arguments.
        for g in ["numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
                  "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
                  "numpy.ndarray", "numpy.dtype", "argparse.Namespace", "torch.device",
                  "torch.Tensor", "torch.nn.parameter.Parameter"] {
            t[g] = .inert(g)
        }
        return t
    }()
}

/// A storage referenced by a persistent id: where its bytes are is up to the container format.
struct StorageRef {
    let key: String
    let dtype: StorageDType
    /// Elements in the underlying storage.
    let count: Int
    /// Element offset of a legacy storage view inside its root storage.
    var viewOffset: Int = 0
}

struct TensorRef {
    let storage: StorageRef
    let offset: Int
    let size: [Int]
    let stride: [Int]
}

/// Containers of the value tree are classes whose `deinit` hands their children to
/// ``DeferredRelease`` instead of releasing them in place: a pickle of 50,000 nested lists (100 KB)
/// would otherwise free its tree by recursion as deep as the nesting and overflow the stack.
final class PyList {
    var items: [PickleValue] = []
    deinit { DeferredRelease.release(&items) }
}

final class PyTuple {
    var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
    deinit { DeferredRelease.release(&items) }
}

final class PyDict {
    var items: [(key: PickleValue, value: PickleValue)] = []

    subscript(key: String) -> PickleValue? {
        for (k, v) in items { if case .string(let s) = k, s == key { return v } }
        return nil
    }

    deinit {
        guard items.contains(where: { $0.key.isContainer || $0.value.isContainer }) else { return }
        var flat: [PickleValue] = []
        flat.reserveCapacity(items.count * 2)
        for (k, v) in items { flat.append(k); flat.append(v) }
        items = []
        DeferredRelease.release(&flat)
    }
}

/// Every list and dict one file's unpickling made. ``dismantle()`` empties them all once the reader
/// is done, which breaks the reference cycles a pickle can build through its memo (a list appended
/// to itself) — otherwise such a file would leak what it allocated.
final class PickleArena {
    private var lists: [PyList] = []
    private var dicts: [PyDict] = []

    func list() -> PyList { let l = PyList(); lists.append(l); return l }
    func dict() -> PyDict { let d = PyDict(); dicts.append(d); return d }

    func dismantle() {
        for l in lists { var items = l.items; l.items = []; DeferredRelease.release(&items) }
        for d in dicts {
            var flat: [PickleValue] = []
            for (k, v) in d.items { flat.append(k); flat.append(v) }
            d.items = []
            DeferredRelease.release(&flat)
        }
        lists = []
        dicts = []
    }
}

/// Frees a value tree of any depth with a loop instead of recursion (a trampoline).
///
/// A dying container moves its children onto this thread's pending list. The outermost release
/// drains the list, dropping one value at a time; a container freed by that drop adds its own
/// children to the list and returns at once, so the stack depth stays constant. Values still
/// referenced elsewhere just lose one reference, as with ordinary release.
enum DeferredRelease {
    final class Queue {
        var pending: [PickleValue] = []
        var draining = false
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in if let p { Unmanaged<Queue>.fromOpaque(p).release() } }
        return k
    }()

    private static var queue: Queue {
        if let p = pthread_getspecific(key) { return Unmanaged<Queue>.fromOpaque(p).takeUnretainedValue() }
        let q = Queue()
        pthread_setspecific(key, Unmanaged.passRetained(q).toOpaque())
        return q
    }

    static func release(_ items: inout [PickleValue]) {
        guard items.contains(where: \.isContainer) else { return }  // leaves free without recursion
        let q = queue
        q.pending.append(contentsOf: items)
        items = []
        guard !q.draining else { return }
        q.draining = true
        while !q.pending.isEmpty { _ = q.pending.removeLast() }
        q.draining = false
    }
}

enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case bigInt([UInt8])  // little-endian two's complement, wider than 64 bits
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PyTuple)
    case list(PyList)
    case dict(PyDict)
    case global(String, AllowedGlobal)
    case storage(StorageRef)
    case tensor(TensorRef)
    case opaque(String)

    static func makeTuple(_ items: [PickleValue]) -> PickleValue { .tuple(PyTuple(items)) }

    var intValue: Int? { if case .int(let i) = self { return i }; if case .bool(let b) = self { return b ? 1 : 0 }; return nil }
    var tupleItems: [PickleValue]? {
        switch self {
        case .tuple(let t): return t.items
        case .list(let l): return l.items
        default: return nil
        }
    }
    var isContainer: Bool {
        switch self {
        case .tuple, .list, .dict: return true
        default: return false
        }
    }

    /// A short, bounded rendering for error messages: at most `depth` levels and `width` items per
    /// container, and never more than a few hundred characters, whatever the value holds.
    func summary(depth: Int = 3, width: Int = 6) -> String {
        func items(_ xs: [PickleValue], _ open: String, _ close: String) -> String {
            guard depth > 0 else { return open + "…" + close }
            let shown = xs.prefix(width).map { $0.summary(depth: depth - 1, width: width) }
            return open + shown.joined(separator: ", ") + (xs.count > width ? ", … (\(xs.count) items)" : "") + close
        }
        func clip(_ s: String) -> String { s.count > 60 ? String(s.prefix(60)) + "…" : s }
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return "\(i)"
        case .bigInt(let b): return "<\(b.count)-byte integer>"
        case .float(let d): return "\(d)"
        case .string(let t): return clip(t.debugDescription)
        case .bytes(let b): return "<\(b.count) bytes>"
        case .tuple(let t): return items(t.items, "(", ")")
        case .list(let l): return items(l.items, "[", "]")
        case .dict(let d): return depth > 0 ? "{\(d.items.count) entries}" : "{…}"
        case .global(let n, _): return n
        case .storage(let r): return "storage '\(clip(r.key))'"
        case .tensor(let t): return "tensor \(t.size)"
        case .opaque(let n): return "<\(n)>"
        }
    }
}

struct Unpickler {
    let bytes: UnsafeRawBufferPointer
    let file: String
    var position: Int
    /// Resolves a persistent id (BINPERSID), e.g. torch's ('storage', type, key, location, numel).
    let persistentLoad: (PickleValue) throws -> PickleValue

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    /// Owns the lists and dicts made, for ``PickleArena/dismantle()`` when the caller is done.
    let arena: PickleArena

    init(bytes: UnsafeRawBufferPointer, file: String, position: Int = 0, arena: PickleArena = PickleArena(),
         persistentLoad: @escaping (PickleValue) throws -> PickleValue) {
        self.arena = arena
        self.bytes = bytes
        self.file = file
        self.position = position
        self.persistentLoad = persistentLoad
    }

    private func fail(_ detail: String) -> CheckpointError {
        .unsupportedPickle(file: file, detail: detail)
    }

    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, position <= bytes.count, n <= bytes.count - position else {
            throw CheckpointError.truncated(file: file, detail: "pickle data end inside an opcode at byte \(position)")
        }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    private mutating func u8() throws -> Int { Int(try take(1)[0]) }
    private mutating func uLE(_ n: Int) throws -> UInt64 {
        let b = try take(n)
        return (0..<n).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * UInt64($1)) }
    }
    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else {
            throw CheckpointError.truncated(file: file, detail: "pickle text argument at byte \(position) has no newline")
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }
    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow at byte \(position)") }
        return v
    }
    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("MARK expected at byte \(position)") }
        defer { stack.removeSubrange(m...) }
        return Array(stack[m...])
    }
    private mutating func length(_ n: UInt64) throws -> Int {
        guard n <= UInt64(bytes.count) else {
            throw CheckpointError.truncated(file: file, detail: "pickle item of \(n) bytes at byte \(position)")
        }
        return Int(n)
    }

    private func resolve(_ module: String, _ name: String) throws -> PickleValue {
        let full = "\(module).\(name)"
        guard let g = AllowedGlobal.table[full] else { throw CheckpointError.forbiddenGlobal(full, file: file) }
        return .global(full, g)
    }

    /// Runs the machine up to STOP and returns the top of the stack; `position` is left after STOP.
    mutating func load() throws -> PickleValue {
        stack = []; marks = []; memo = [:]
        while true {
            let at = position
            let op = try u8()
            switch op {
            case 0x80: _ = try u8()                                  // PROTO
            case 0x95: _ = try take(8)                               // FRAME (a framing hint only)
            case 0x2E: return try pop()                              // STOP
            case 0x28: marks.append(stack.count)                     // MARK
            case 0x7D: stack.append(.dict(arena.dict()))             // EMPTY_DICT
            case 0x5D: stack.append(.list(arena.list()))             // EMPTY_LIST
            case 0x29: stack.append(.makeTuple([]))                  // EMPTY_TUPLE
            case 0x8F: stack.append(.list(arena.list()))             // EMPTY_SET (kept as a list)
            case 0x4E: stack.append(.none)                           // NONE
            case 0x88: stack.append(.bool(true))                     // NEWTRUE
            case 0x89: stack.append(.bool(false))                    // NEWFALSE
            case 0x4B: stack.append(.int(try u8()))                  // BININT1
            case 0x4D: stack.append(.int(Int(try uLE(2))))           // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uLE(4)))))  // BININT
            case 0x8A, 0x8B:                                          // LONG1, LONG4
                let n = op == 0x8A ? try u8() : try length(try uLE(4))
                let b = try take(n)
                if n == 0 { stack.append(.int(0)) } else if n <= 8 {
                    var v: UInt64 = 0
                    for i in 0..<n { v |= UInt64(b[i]) << (8 * UInt64(i)) }
                    if n < 8, b[n - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }  // sign-extend
                    stack.append(.int(Int(Int64(bitPattern: v))))
                } else { stack.append(.bigInt([UInt8](b))) }
            case 0x47:                                                // BINFLOAT, big-endian
                let b = try take(8)
                stack.append(.float(Double(bitPattern: (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(b[$1]) })))
            case 0x58, 0x8C, 0x8D:                                    // BINUNICODE, SHORT_, 8
                let n = op == 0x58 ? try length(try uLE(4)) : op == 0x8C ? try u8() : try length(try uLE(8))
                stack.append(.string(String(decoding: try take(n), as: UTF8.self)))
            case 0x54, 0x55:                                          // BINSTRING, SHORT_BINSTRING (py2 str)
                let n = op == 0x54 ? try length(try uLE(4)) : try u8()
                stack.append(.string(String(String.UnicodeScalarView(try take(n).map { Unicode.Scalar($0) }))))
            case 0x42, 0x43, 0x8E:                                    // BINBYTES, SHORT_BINBYTES, BINBYTES8
                let n = op == 0x42 ? try length(try uLE(4)) : op == 0x43 ? try u8() : try length(try uLE(8))
                stack.append(.bytes([UInt8](try take(n))))
            case 0x74: stack.append(.makeTuple(try popMark()))       // TUPLE
            case 0x85: stack.append(.makeTuple([try pop()]))         // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.makeTuple([a, b]))           // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.makeTuple([a, b, c]))  // TUPLE3
            case 0x71: memo[try u8()] = stack.last                    // BINPUT
            case 0x72: memo[Int(try uLE(4))] = stack.last             // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last                  // MEMOIZE
            case 0x68, 0x6A:                                          // BINGET, LONG_BINGET
                let i = op == 0x68 ? try u8() : Int(try uLE(4))
                guard let v = memo[i] else { throw fail("memo \(i) read before written at byte \(at)") }
                stack.append(v)
            case 0x30: _ = try pop()                                  // POP
            case 0x31: _ = try popMark()                              // POP_MARK
            case 0x32: guard let v = stack.last else { throw fail("DUP on empty stack") }; stack.append(v)  // DUP
            case 0x61:                                                // APPEND
                let v = try pop()
                try append([v], to: stack.last, at: at)
            case 0x65, 0x90:                                          // APPENDS, ADDITEMS
                let items = try popMark()
                try append(items, to: stack.last, at: at)
            case 0x73:                                                // SETITEM
                let v = try pop(), k = try pop()
                try setItems([k, v], on: stack.last, at: at)
            case 0x75:                                                // SETITEMS
                let kv = try popMark()
                try setItems(kv, on: stack.last, at: at)
            case 0x63:                                                // GLOBAL
                let module = try line(), name = try line()
                stack.append(try resolve(module, name))
            case 0x93:                                                // STACK_GLOBAL
                let n = try pop(), m = try pop()
                guard case .string(let module) = m, case .string(let name) = n else { throw fail("STACK_GLOBAL without strings at byte \(at)") }
                stack.append(try resolve(module, name))
            case 0x52, 0x81:                                          // REDUCE, NEWOBJ
                let args = try pop(), callable = try pop()
                stack.append(try call(callable, args, at: at))
            case 0x92:                                                // NEWOBJ_EX
                _ = try pop()
                let args = try pop(), callable = try pop()
                stack.append(try call(callable, args, at: at))
            case 0x62:                                                // BUILD: object state; nothing we read lives there
                _ = try pop()
                guard !stack.isEmpty else { throw fail("BUILD on empty stack") }
            case 0x51:                                                // BINPERSID
                stack.append(try persistentLoad(try pop()))
            case 0x91:                                                // FROZENSET
                let items = try popMark(); let l = arena.list(); l.items = items; stack.append(.list(l))
            default:
                throw fail("opcode 0x\(String(op, radix: 16)) at byte \(at)")
            }
        }
    }

    private func append(_ items: [PickleValue], to target: PickleValue?, at: Int) throws {
        guard case .list(let l) = target else {
            if case .opaque = target { return }
            throw fail("APPEND to a non-list at byte \(at)")
        }
        l.items.append(contentsOf: items)
    }

    private func setItems(_ kv: [PickleValue], on target: PickleValue?, at: Int) throws {
        guard kv.count % 2 == 0 else { throw fail("odd SETITEMS at byte \(at)") }
        guard case .dict(let d) = target else {
            if case .opaque = target { return }
            throw fail("SETITEM on a non-dict at byte \(at)")
        }
        for i in stride(from: 0, to: kv.count, by: 2) {
            if case .string(let s) = kv[i], let j = d.items.firstIndex(where: { if case .string(let t) = $0.key { return t == s }; return false }) {
                d.items[j].value = kv[i + 1]
            } else {
                d.items.append((kv[i], kv[i + 1]))
            }
        }
    }

    /// Interprets a call to an allowed global. Nothing is ever executed.
    private func call(_ callable: PickleValue, _ args: PickleValue, at: Int) throws -> PickleValue {
        var callable = callable, args = args
        // `_rebuild_from_type_v2(func, type, args, state)` calls `func(*args)`: unwrapped in a loop,
        // since a crafted pickle can nest it as deep as it likes.
        while case .global(let name, .rebuildFromType) = callable {
            let a = args.tupleItems ?? []
            guard a.count >= 3 else { throw fail("\(name) with unexpected arguments at byte \(at)") }
            callable = a[0]
            args = a[2]
        }
        guard case .global(let name, let g) = callable else {
            if case .opaque(let n) = callable { return .opaque(n) }
            throw fail("call of a non-global at byte \(at)")
        }
        let a = args.tupleItems ?? []
        switch g {
        case .orderedDict:
            return .dict(arena.dict())
        case .rebuildTensorV2, .rebuildTensor:
            guard a.count >= 4, case .storage(let storage) = a[0], let offset = a[1].intValue,
                  let size = a[2].tupleItems?.compactMap({ $0.intValue }), let stride = a[3].tupleItems?.compactMap({ $0.intValue }),
                  size.count == a[2].tupleItems?.count, stride.count == size.count else {
                throw fail("\(name) with unexpected arguments at byte \(at)")
            }
            return .tensor(TensorRef(storage: storage, offset: offset, size: size, stride: stride))
        case .rebuildParameter, .rebuildParameterWithState:
            guard let first = a.first else { throw fail("\(name) without arguments at byte \(at)") }
            return first
        case .rebuildFromType:
            return .opaque(name)  // unwrapped above; the attributes in `state` are dropped
        case .torchSize:
            return .makeTuple(a.first?.tupleItems ?? [])
        case .codecsEncode:
            guard case .string(let s)? = a.first else { throw fail("_codecs.encode without a string at byte \(at)") }
            // latin1: every code point < 256 is one byte.
            return .bytes(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        case .storageType, .torchDType, .inert:
            return .opaque(name)
        }
    }
}
