import XCTest
import GLMTensor
import GLMTestSupport

final class ConversionTests: XCTestCase {
    func bf16(_ xs: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: xs.count)
        CPUKernels.f32ToBF16(xs, &out, count: xs.count)
        return out
    }
    func f16(_ xs: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: xs.count)
        CPUKernels.f32ToF16(xs, &out, count: xs.count)
        return out
    }
    func fromF16(_ hs: [UInt16]) -> [Float] {
        var out = [Float](repeating: 0, count: hs.count)
        CPUKernels.f16ToF32(hs, &out, count: hs.count)
        return out
    }

    func testBF16Cases() {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80),              // 1
            (0x3F80_8000, 0x3F80),              // tie, even stays
            (0x3F81_8000, 0x3F82),              // tie, odd rounds up to even
            (0x3F80_8001, 0x3F81),              // above half
            (0x3F80_7FFF, 0x3F80),              // below half
            (0xBF81_8000, 0xBF82),              // negative tie
            (0x7F80_0000, 0x7F80), (0xFF80_0000, 0xFF80),   // ±Inf
            (0x7F7F_FFFF, 0x7F80),              // FLT_MAX rounds past bf16 max to Inf
            (0x7F7F_7FFF, 0x7F7F),              // just below the halfway point: bf16 max
            (0x7FC0_0000, 0x7FC0),              // quiet NaN
            (0x7F80_0001, 0x7FC0),              // signalling NaN with a low payload: stays NaN, quiet
            (0xFFA0_0000, 0xFFE0),              // negative sNaN keeps sign and payload, gains quiet bit
            (0x0000_0001, 0x0000),              // smallest subnormal rounds to 0
            (0x0000_8000, 0x0000), (0x0001_8000, 0x0002),   // subnormal ties to even
            (0x8000_0000, 0x8000),              // −0
        ]
        let out = bf16(cases.map { Float(bitPattern: $0.0) })
        for (k, c) in cases.enumerated() {
            XCTAssertEqual(out[k], c.1, String(format: "%08x → %04x, want %04x", c.0, out[k], c.1))
        }
    }

    func testBF16AgainstReferenceAndRoundTrip() {
        var rng = TestRNG(80)
        // Random bit patterns cover every class (NaN, Inf, subnormal, normal); odd count for the tail.
        let xs = (0..<300_001).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
            + rng.floats(1001, -3, 3)
        let fast = bf16(xs)
        var ref = [UInt16](repeating: 0, count: xs.count)
        ReferenceKernels.f32ToBF16(xs, &ref, count: xs.count)
        XCTAssertEqual(fast, ref)
        // Every bf16 pattern widens exactly and narrows back to itself (NaNs come back quiet).
        let all = (0...0xFFFF).map { UInt16($0) }
        var wide = [Float](repeating: 0, count: all.count)
        CPUKernels.bf16ToF32(all, &wide, count: all.count)
        var wideR = wide
        ReferenceKernels.bf16ToF32(all, &wideR, count: all.count)
        XCTAssertEqual(wide.map(\.bitPattern), wideR.map(\.bitPattern))
        let back = bf16(wide)
        for h in 0...0xFFFF {
            XCTAssertEqual(wide[h].bitPattern, UInt32(h) << 16)
            XCTAssertEqual(back[h], wide[h].isNaN ? UInt16(h) | 0x0040 : UInt16(h))
        }
    }

    func testF16Cases() {
        let cases: [(Float, UInt16)] = [
            (1, 0x3C00), (-2, 0xC000), (0, 0), (-0.0, 0x8000),
            (65504, 0x7BFF), (65519.99, 0x7BFF), (65520, 0x7C00), (1e6, 0x7C00), (-1e6, 0xFC00),
            (.infinity, 0x7C00), (-.infinity, 0xFC00),
            (0x1p-14, 0x0400),                  // smallest normal
            (0x1p-24, 0x0001),                  // smallest subnormal
            (0x1p-25, 0x0000),                  // tie to even (0)
            (0x1.8p-24, 0x0002),                // 1.5 quanta: tie to even (2)
            (0x1.0p-25 * 1.0001, 0x0001),       // above half a quantum
            (1 + 0x1p-11, 0x3C00),              // tie, even stays
            (1 + 0x1.8p-10, 0x3C02),            // tie, odd rounds up
            (1 + 0x1.8p-11, 0x3C01),            // above half
        ]
        let out = f16(cases.map(\.0))
        for (k, c) in cases.enumerated() { XCTAssertEqual(out[k], c.1, "\(c.0) → \(String(out[k], radix: 16))") }
        let nans = f16([.nan, -.nan, Float(bitPattern: 0x7F80_0001)])
        for h in nans { XCTAssertEqual(h & 0x7FFF, 0x7E00) }
        XCTAssertEqual(nans[1] & 0x8000, 0x8000)
    }

    func testF16ToF32AllPatterns() {
        let all = (0...0xFFFF).map { UInt16($0) }
        let wide = fromF16(all)
        for h in 0...0xFFFF {
            let sign: Float = h & 0x8000 != 0 ? -1 : 1
            let e = (h >> 10) & 0x1F, m = h & 0x3FF
            let x = wide[h]
            if e == 0x1F {
                if m == 0 { XCTAssertEqual(x, sign * .infinity) } else {
                    XCTAssertTrue(x.isNaN); XCTAssertTrue(x.bitPattern & 0x0040_0000 != 0, "quiet")
                    XCTAssertEqual(x.sign == .minus, sign < 0)
                }
            } else {
                // value = m·2^-24 (subnormal) or (1024 + m)·2^(e−25), exactly.
                let expect = e == 0 ? sign * Float(m) * 0x1p-24 : sign * Float(1024 + Int(m)) * Float(sign: .plus, exponent: Int(e) - 25, significand: 1)
                XCTAssertEqual(x.bitPattern, expect.bitPattern, "f16 \(String(h, radix: 16))")
            }
        }
        // Round trip of every non-NaN pattern.
        let back = f16(wide)
        for h in 0...0xFFFF where !wide[h].isNaN { XCTAssertEqual(back[h], UInt16(h)) }
    }

    #if !(os(macOS) && arch(x86_64))
    /// Against the platform's Float16 conversions (IEEE round-to-nearest-even) on random bits.
    func testF16AgainstFloat16() {
        var rng = TestRNG(81)
        let xs = (0..<300_001).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
            + (0..<100_000).map { _ in Float(rng.uniform(-70000, 70000)) }
            + (0..<100_000).map { _ in Float(rng.uniform(-1e-4, 1e-4)) }
        let out = f16(xs)
        for (k, x) in xs.enumerated() {
            let h = Float16(x)
            if h.isNaN { XCTAssertTrue(Float16(bitPattern: out[k]).isNaN) } else {
                XCTAssertEqual(out[k], h.bitPattern, "\(x)")
            }
        }
        let all = (0...0xFFFF).map { UInt16($0) }
        let wide = fromF16(all)
        for h in 0...0xFFFF {
            let r = Float(Float16(bitPattern: UInt16(h)))
            if r.isNaN { XCTAssertTrue(wide[h].isNaN) } else { XCTAssertEqual(wide[h].bitPattern, r.bitPattern) }
        }
    }
    #endif
}
