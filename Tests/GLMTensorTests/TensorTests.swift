import XCTest
import GLMTensor

final class TensorTests: XCTestCase {
    func testReshapeTransposeSliceContiguous() throws {
        let t = try Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        XCTAssertEqual(try t.reshaped([6, -1]).shape, [6, 4])
        XCTAssertThrowsError(try t.reshaped([5, 5])) { e in
            XCTAssertEqual(e as? TensorError, .shapeMismatch(op: "reshape", lhs: [2, 3, 4], rhs: [5, 5]))
        }
        let tr = try t.transposed(1, 2)   // [2, 4, 3]
        XCTAssertEqual(tr.shape, [2, 4, 3])
        XCTAssertFalse(tr.isContiguous)
        let c = tr.contiguous().toArray()
        for i in 0..<2 { for j in 0..<4 { for k in 0..<3 {
            XCTAssertEqual(c[(i * 4 + j) * 3 + k], Float(i * 12 + k * 4 + j))
        } } }
        let s = try t.slice(1, 1..<3)      // [2, 2, 4]
        XCTAssertEqual(s.toArray(), [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
        XCTAssertThrowsError(try t.slice(1, 2..<4))
        XCTAssertThrowsError(try Tensor([1, 2, 3], shape: [2, 2]))
    }

    func testConversionsThroughTensor() throws {
        let v: [Float] = [1, -2.5, 3.14159, .infinity, -.infinity, 65504, 1e-8]
        let t = try Tensor(v, shape: [v.count])
        let bf = t.converted(to: .bf16).converted(to: .f32).toArray()
        XCTAssertEqual(bf[0], 1); XCTAssertEqual(bf[1], -2.5)
        XCTAssertEqual(bf[2], 3.140625)                // nearest bf16
        XCTAssertEqual(bf[3], .infinity); XCTAssertEqual(bf[4], -.infinity)
        let h = t.converted(to: .f16).converted(to: .f32).toArray()
        XCTAssertEqual(h[5], 65504)
        XCTAssertEqual(h[2], 3.140625)
        let nan = try Tensor([.nan], shape: [1]).converted(to: .bf16).converted(to: .f32).item
        XCTAssertTrue(nan.isNaN)
    }

    func testBufferPoolReusesFreedBuffers() {
        let pool = BufferPool.shared
        _ = Tensor(uninitialized: [12345])   // freed at once
        let before = pool.hits
        _ = Tensor(uninitialized: [12345])
        XCTAssertGreaterThan(pool.hits, before)
        XCTAssertEqual(BufferPool.sizeClass(5000), 5120)
        XCTAssertGreaterThanOrEqual(BufferPool.sizeClass(1 << 20 + 1), 1 << 20 + 1)
        XCTAssertLessThanOrEqual(Double(BufferPool.sizeClass(1 << 20 + 1)), 1.25 * Double(1 << 20 + 1))
    }
}
