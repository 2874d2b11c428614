import Foundation

/// The fast CPU kernels: `SIMD16<Float>` (one zmm register under `-target-cpu skylake-avx512`),
/// threaded over the cores with ``parallelFor(_:minChunk:_:)`` where the work is big enough.
///
/// Conventions (llm.c style): raw pointers, row-major, shapes in each doc comment. Pointers are
/// trusted: the Tensor API validates user shapes before it calls in. Every kernel that reduces
/// across threads does so in a fixed order, so results do not depend on the thread count.
/// Each kernel has a plain twin in ``ReferenceKernels`` with the same argument names.
public enum CPUKernels {}

/// Plain scalar, single-threaded implementations of every ``CPUKernels`` function, generic over
/// the float type so the tests can check backward passes against central finite differences in
/// `Double` and the fast kernels against the same math in `Float` and `Double`.
public enum ReferenceKernels {}

/// Which GELU: the tanh approximation the official GLM code trains with
/// (`0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, `mpu/transformer.py:gelu_impl`), or the exact
/// `0.5·x·(1 + erf(x/√2))` the Hugging Face remote code uses.
public enum GELUApproximation: String, Sendable, CaseIterable, Codable {
    case tanh
    case erf
}

/// Float types the reference kernels run in (Float and Double): the transcendental functions
/// they need, routed to the C library, which is the accuracy yardstick for the SIMD versions.
public protocol ReferenceFloat: BinaryFloatingPoint, Sendable {
    static func refExp(_ x: Self) -> Self
    static func refLog(_ x: Self) -> Self
    static func refTanh(_ x: Self) -> Self
    static func refErf(_ x: Self) -> Self
    static func refSqrt(_ x: Self) -> Self
}

extension Float: ReferenceFloat {
    @inlinable public static func refExp(_ x: Float) -> Float { Foundation.exp(x) }
    @inlinable public static func refLog(_ x: Float) -> Float { Foundation.log(x) }
    @inlinable public static func refTanh(_ x: Float) -> Float { Foundation.tanh(x) }
    @inlinable public static func refErf(_ x: Float) -> Float { Foundation.erf(x) }
    @inlinable public static func refSqrt(_ x: Float) -> Float { x.squareRoot() }
}

extension Double: ReferenceFloat {
    @inlinable public static func refExp(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func refLog(_ x: Double) -> Double { Foundation.log(x) }
    @inlinable public static func refTanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inlinable public static func refErf(_ x: Double) -> Double { Foundation.erf(x) }
    @inlinable public static func refSqrt(_ x: Double) -> Double { x.squareRoot() }
}

// MARK: - SIMD helpers shared by the kernels

typealias F16x = SIMD16<Float>
typealias U16x = SIMD16<UInt32>

/// Unaligned 16-float load: tensors come from a pool whose views may start anywhere.
@inline(__always) func load16(_ p: UnsafePointer<Float>) -> F16x {
    UnsafeRawPointer(p).loadUnaligned(as: F16x.self)
}

@inline(__always) func load16(_ p: UnsafeMutablePointer<Float>) -> F16x {
    UnsafeRawPointer(p).loadUnaligned(as: F16x.self)
}

@inline(__always) func store16(_ v: F16x, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16x.self)
}

/// Loads the first `n` (< 16) floats, the other lanes `fill`. Tails go through the same SIMD math
/// as the body, so an element's result does not depend on where it sits in the buffer.
@inline(__always) func loadPartial(_ p: UnsafePointer<Float>, _ n: Int, fill: Float = 0) -> F16x {
    var v = F16x(repeating: fill)
    for k in 0..<n { v[k] = p[k] }
    return v
}

@inline(__always) func loadPartial(_ p: UnsafeMutablePointer<Float>, _ n: Int, fill: Float = 0) -> F16x {
    loadPartial(UnsafePointer(p), n, fill: fill)
}

@inline(__always) func storePartial(_ v: F16x, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for k in 0..<n { p[k] = v[k] }
}

/// Elements per thread below which a memory-bound elementwise kernel runs on the calling thread:
/// waking a worker costs a few microseconds, about what 32K floats take to stream.
let elementwiseMinChunk = 1 << 15

/// Runs an elementwise SIMD body over `0..<count` in parallel, chunks aligned to 16 so every
/// element but the final tail goes through full-width loads.
@inline(__always) func parallelSIMD(_ count: Int, minChunk: Int = elementwiseMinChunk,
                                    _ body: (Int, Int) -> Void) {
    let blocks = (count + 15) / 16
    parallelFor(blocks, minChunk: max(1, minChunk / 16)) { r in
        body(r.lowerBound * 16, min(count, r.upperBound * 16))
    }
}

/// The IEEE bits of each lane (SIMD vectors have no `bitPattern`; same size, so a bit cast).
@inline(__always) func bitsOf(_ v: F16x) -> U16x { unsafeBitCast(v, to: U16x.self) }

/// Floats from IEEE bits, lane by lane.
@inline(__always) func floatsOf(_ u: U16x) -> F16x { unsafeBitCast(u, to: F16x.self) }

/// |v| by clearing the sign bits.
@inline(__always) func vabs(_ v: F16x) -> F16x { floatsOf(bitsOf(v) & 0x7FFF_FFFF) }

/// Lane-wise max/min as a compare and a blend. The standard library's `pointwiseMax`/`clamped`
/// are generic functions that stay out of line (a call per vector, the vector through memory).
@inline(__always) func vmax(_ a: F16x, _ b: F16x) -> F16x { a.replacing(with: b, where: b .> a) }
@inline(__always) func vmin(_ a: F16x, _ b: F16x) -> F16x { a.replacing(with: b, where: b .< a) }

/// An elementwise SIMD function passed as a type, not a closure value: kernels generic over it
/// are specialized and the body inlined, where a function value would be an indirect call per
/// vector with the vector passed through memory.
protocol SIMDMap { static func apply(_ x: F16x) -> F16x }

/// A two-input elementwise SIMD function, as ``SIMDMap``.
protocol SIMDZip { static func apply(_ a: F16x, _ b: F16x) -> F16x }

typealias I16x = SIMD16<Int32>

// Integer lane comparisons of the standard library (`.>` on SIMD16<Int32>) compile to a branchy
// loop over the lanes, so the conversions and dropout build their masks arithmetically: for
// 0 ≤ a, b < 2^31, b − a cannot overflow and its sign bit is a > b; shifting it across the lane
// gives an all-ones/all-zeros mask, and selects are and/or on it.

/// All ones where a > b (0 ≤ a, b < 2^31).
@_transparent func greater(_ a: I16x, _ b: I16x) -> I16x { (b &- a) &>> 31 }

/// `m ? a : b` for an all-ones/all-zeros mask.
@_transparent func select(_ m: I16x, _ a: I16x, _ b: I16x) -> I16x { (a & m) | (b & ~m) }

@_transparent func intsOf(_ v: F16x) -> I16x { unsafeBitCast(v, to: I16x.self) }
@_transparent func floatsOf(_ v: I16x) -> F16x { unsafeBitCast(v, to: F16x.self) }
