// f32 ↔ bf16 and f32 ↔ f16 conversions on bit patterns (UInt16 storage), 16 lanes at a time.
// Done with integer arithmetic rather than the Float16 type so they behave the same on every
// platform (Float16 is unavailable on x86 macOS) and vectorize.

typealias U16Lanes = SIMD16<UInt16>

/// UInt32 → UInt16 lanes. A plain lane loop, which LLVM turns into one vpmovdw; the standard
/// library's generic `init(truncatingIfNeeded:)` stays an out-of-line call.
@_transparent func narrow(_ v: U16x) -> U16Lanes {
    var r = U16Lanes()
    for k in 0..<16 { r[k] = UInt16(truncatingIfNeeded: v[k]) }
    return r
}

/// UInt16 → UInt32 lanes (zero-extending), as ``narrow(_:)``.
@_transparent func widen(_ v: U16Lanes) -> U16x {
    var r = U16x()
    for k in 0..<16 { r[k] = UInt32(v[k]) }
    return r
}

@_transparent func narrow(_ v: I16x) -> U16Lanes { narrow(unsafeBitCast(v, to: U16x.self)) }

/// f32 → bf16, round to nearest even; NaN stays NaN (quiet bit set, sign and top payload kept),
/// overflow past the largest bf16 rounds to ±Inf as IEEE rounding requires.
@_transparent func f32ToBF16Lanes(_ f: F16x) -> U16Lanes {
    let bits = bitsOf(f)
    let lsb = (bits &>> 16) & 1
    let rounded = unsafeBitCast((bits &+ 0x7FFF &+ lsb) &>> 16, to: I16x.self)
    let quiet = unsafeBitCast((bits &>> 16) | 0x0040, to: I16x.self)
    let isNaN = greater(intsOf(f) & 0x7FFF_FFFF, I16x(repeating: 0x7F80_0000))
    return narrow(select(isNaN, quiet, rounded))
}

@_transparent func bf16ToF32Lanes(_ h: U16Lanes) -> F16x {
    floatsOf(widen(h) &<< 16)
}

/// f16 → f32, exact (every f16 is a float): normals rebias the exponent, subnormals are
/// renormalized by a float subtraction, Inf stays Inf, NaN stays NaN (made quiet).
@_transparent func f16ToF32Lanes(_ h16: U16Lanes) -> F16x {
    let h = unsafeBitCast(widen(h16), to: I16x.self)
    let sign = (h & 0x8000) &<< 16
    let em = (h & 0x7FFF) &<< 13                    // exponent and mantissa in float position
    let exp = em & 0x0F80_0000
    let normal = em &+ ((127 - 15) << 23)           // rebias
    let isNaN = greater(h & 0x03FF, I16x())
    let infNaN = (normal &+ ((128 - 16) << 23)) | (isNaN & 0x0040_0000)
    // Subnormal/zero: 2^-14 + m·2^-24 as a float, minus the 2^-14 bias, renormalizes exactly.
    let sub = intsOf(floatsOf(normal &+ (1 << 23)) - F16x(repeating: Float(bitPattern: 113 << 23)))
    let isInfNaN = greater(exp, I16x(repeating: 0x0F00_0000))   // exponent field all ones
    let isSub = ~greater(exp, I16x())                            // exponent field zero
    return floatsOf(select(isSub, sub, select(isInfNaN, infNaN, normal)) | sign)
}

/// f32 → f16, round to nearest even, overflow to ±Inf, NaN → quiet NaN 0x7E00 (with sign),
/// subnormal results rounded by a float addition that lines the mantissa up with f16's.
@_transparent func f32ToF16Lanes(_ f32: F16x) -> U16Lanes {
    let all = intsOf(f32)
    let f = all & 0x7FFF_FFFF
    let sign = (all &>> 16) & 0x8000
    let denormMagic: Int32 = ((127 - 15) + (23 - 10) + 1) << 23
    // Normal path: rebias, add the rounding bias (0xFFF plus the odd bit for ties-to-even).
    let mantOdd = (f &>> 13) & 1
    let normal = (f &+ (((15 - 127) << 23) &+ 0xFFF) &+ mantOdd) &>> 13
    // Subnormal path (f < 2^-14): the float add rounds (RNE) at the f16 subnormal quantum.
    let sub = intsOf(floatsOf(f) + F16x(repeating: Float(bitPattern: UInt32(denormMagic)))) &- denormMagic
    let isSub = greater(I16x(repeating: 113 << 23), f)
    let overflow = greater(f, I16x(repeating: ((127 + 16) << 23) - 1))   // ≥ 65536: Inf
    let isNaN = greater(f, I16x(repeating: 255 << 23))
    let special = select(isNaN, I16x(repeating: 0x7E00), I16x(repeating: 0x7C00))
    return narrow(select(overflow, special, select(isSub, sub, normal)) | sign)
}

extension CPUKernels {
    @inline(__always) static func load16u(_ p: UnsafePointer<UInt16>) -> U16Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: U16Lanes.self)
    }

    @inline(__always) static func store16u(_ v: U16Lanes, _ p: UnsafeMutablePointer<UInt16>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: U16Lanes.self)
    }

    /// f32 → bf16 bit patterns, round to nearest even, NaN kept (quiet). `src`, `dst`: [count].
    public static func f32ToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        parallelSIMD(count) { lo, hi in
            var i = lo
            while i + 16 <= hi { store16u(f32ToBF16Lanes(load16(src + i)), dst + i); i += 16 }
            if i < hi {
                let r = f32ToBF16Lanes(loadPartial(src + i, hi - i))
                for k in 0..<(hi - i) { dst[i + k] = r[k] }
            }
        }
    }

    /// bf16 bit patterns → f32 (exact). `src`, `dst`: [count].
    public static func bf16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        parallelSIMD(count) { lo, hi in
            var i = lo
            while i + 16 <= hi { store16(bf16ToF32Lanes(load16u(src + i)), dst + i); i += 16 }
            while i < hi { dst[i] = Float(bitPattern: UInt32(src[i]) << 16); i += 1 }
        }
    }

    /// f16 bit patterns → f32 (exact, incl. subnormals, ±Inf, NaN). `src`, `dst`: [count].
    public static func f16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        parallelSIMD(count) { lo, hi in
            var i = lo
            while i + 16 <= hi { store16(f16ToF32Lanes(load16u(src + i)), dst + i); i += 16 }
            if i < hi {
                var v = U16Lanes()
                for k in 0..<(hi - i) { v[k] = src[i + k] }
                storePartial(f16ToF32Lanes(v), dst + i, hi - i)
            }
        }
    }

    /// f32 → f16 bit patterns, round to nearest even, overflow → ±Inf, NaN → quiet NaN.
    /// `src`, `dst`: [count].
    public static func f32ToF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        parallelSIMD(count) { lo, hi in
            var i = lo
            while i + 16 <= hi { store16u(f32ToF16Lanes(load16(src + i)), dst + i); i += 16 }
            if i < hi {
                let r = f32ToF16Lanes(loadPartial(src + i, hi - i))
                for k in 0..<(hi - i) { dst[i + k] = r[k] }
            }
        }
    }
}

extension ReferenceKernels {
    /// f32 → bf16 by the definition of rounding rather than bit tricks: the two bf16 neighbours
    /// of x (truncation and the next pattern up in magnitude), whichever is nearer in Double,
    /// ties to the even pattern; NaN → its top half with the quiet bit set.
    public static func f32ToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        for i in 0..<count {
            let x = src[i]
            let bits = x.bitPattern
            if x.isNaN { dst[i] = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040; continue }
            let down = UInt16(truncatingIfNeeded: bits >> 16)
            if bits & 0xFFFF == 0 { dst[i] = down; continue }
            let up = down &+ 1  // next magnitude (may become Inf: 0x7F80 / 0xFF80)
            let dDown = abs(Double(Float(bitPattern: UInt32(down) << 16)) - Double(x))
            let dUp = abs(Double(Float(bitPattern: UInt32(up) << 16)) - Double(x))
            // An Inf neighbour is "nearer" iff x is at or past the halfway point to 2^128.
            let upIsInf = (up & 0x7FFF) == 0x7F80
            if upIsInf {
                // bf16 max = 0x7F7F → 3.3895e38; half ulp above it is 2^128 − 2^119.
                let limit = 0x1p128 - 0x1p119
                dst[i] = abs(Double(x)) >= limit ? up : down
            } else if dDown < dUp || (dDown == dUp && down & 1 == 0) {
                dst[i] = down
            } else {
                dst[i] = up
            }
        }
    }

    /// bf16 → f32 (exact: the pattern is the top half of the float).
    public static func bf16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = Float(bitPattern: UInt32(src[i]) << 16) }
    }
}
