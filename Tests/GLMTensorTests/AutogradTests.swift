import XCTest
import GLMTensor

final class AutogradTests: XCTestCase {
    private func store() throws -> ParameterStore {
        let s = try ParameterStore([(name: "w", shape: [3, 2]), (name: "b", shape: [3])])
        try s["w"]!.load([1, 2, 3, 4, 5, 6])
        try s["b"]!.load([0.5, -0.5, 1])
        return s
    }

    func testGradientsAccumulateAcrossBackwardCallsUntilZeroed() throws {
        let s = try store()
        let x = try Tensor([1, -1, 2, 0.5], shape: [2, 2])
        func lossOnce() throws {
            let y = try Ops.linear(x, weight: s["w"]!.value, bias: s["b"]!.value)
            let loss = try Ops.crossEntropy(y, targets: Tensor(int32: [0, 2], shape: [2]), lossMask: Tensor([1, 1], shape: [2]))
            try loss.backward()
        }
        try lossOnce()
        let once = s.grads.toArray()
        try lossOnce()
        let twice = s.grads.toArray()
        for (a, b) in zip(once, twice) { XCTAssertEqual(2 * a, b, accuracy: 1e-6) }
        XCTAssertGreaterThan(once.map(abs).max()!, 0)
        s.zeroGrad()
        XCTAssertEqual(s.grads.toArray().max(), 0)
    }

    func testNoGradRecordsNothingAndConsumedGraphThrows() throws {
        let s = try store()
        let x = try Tensor([1, 2], shape: [1, 2])
        let y = try Autograd.withNoGrad { try Ops.linear(x, weight: s["w"]!.value) }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertThrowsError(try y.backward(Tensor.full([1, 3], 1)))
        let z = try Ops.linear(x, weight: s["w"]!.value)
        XCTAssertTrue(z.requiresGrad)
        XCTAssertThrowsError(try z.backward())   // not a scalar: needs a gradient
        try z.backward(Tensor.full([1, 3], 1))
        XCTAssertEqual(s["w"]!.grad.toArray(), [1, 2, 1, 2, 1, 2])
        XCTAssertThrowsError(try z.backward(Tensor.full([1, 3], 1)))
    }

    func testReshapePassesGradientThrough() throws {
        let s = try store()
        let y = try Ops.add(s["w"]!.value, Tensor.full([3, 2], 0)).reshaped([6])
        try y.backward(try Tensor([1, 2, 3, 4, 5, 6], shape: [6]))
        XCTAssertEqual(s["w"]!.grad.toArray(), [1, 2, 3, 4, 5, 6])
    }

    func testParameterStoreIsContiguousAndRejectsDuplicates() throws {
        let s = try store()
        XCTAssertEqual(s["b"]!.offset % 16, 0)
        XCTAssertEqual(s.values.floats[s["b"]!.offset + 2], 1)
        XCTAssertThrowsError(try ParameterStore([(name: "a", shape: [1]), (name: "a", shape: [2])]))
        XCTAssertThrowsError(try s["w"]!.load([1]))
    }
}
