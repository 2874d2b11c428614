extension Tensor {
    /// A contiguous copy in `dtype` (f32↔bf16 round to nearest even, NaN kept; f16↔f32;
    /// i32↔f32 by value). Returns `self` when the dtype already matches.
    public func converted(to target: DType) -> Tensor {
        if target == dtype { return self }
        let src = contiguous()
        let n = src.count
        let out = Tensor(uninitialized: shape, dtype: target)
        switch (dtype, target) {
        case (.f32, .bf16): Backend.current.f32ToBF16(src.floats, out.halfBits, count: n)
        case (.f32, .f16): Backend.current.f32ToF16(src.floats, out.halfBits, count: n)
        case (.bf16, .f32): Backend.current.bf16ToF32(src.halfBits, out.floats, count: n)
        case (.f16, .f32): Backend.current.f16ToF32(src.halfBits, out.floats, count: n)
        case (.i32, .f32): for i in 0..<n { out.floats[i] = Float(src.int32s[i]) }
        case (.f32, .i32): for i in 0..<n { out.int32s[i] = Int32(src.floats[i]) }
        default: return src.converted(to: .f32).converted(to: target)
        }
        return out
    }
}
