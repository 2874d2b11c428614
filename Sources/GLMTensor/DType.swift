/// Element types a ``Tensor`` can hold.
public enum DType: String, Sendable, Codable, CaseIterable {
    case f32, bf16, f16, i32

    /// Bytes per element.
    @inlinable public var size: Int {
        switch self {
        case .f32, .i32: return 4
        case .bf16, .f16: return 2
        }
    }
}
