import XCTest
import GLMTensor

func toDouble(_ a: [Float]) -> [Double] { a.map(Double.init) }

/// Asserts |a − b| ≤ atol + rtol·|b| elementwise, reporting the worst element.
func assertClose<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(
    _ a: [A], _ b: [B], rtol: Double, atol: Double = 0, _ what: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(a.count, b.count, "count \(what())", file: file, line: line)
    var worst = -1.0, worstAt = -1
    for i in 0..<min(a.count, b.count) {
        let x = Double(a[i]), y = Double(b[i])
        if x.isNaN && y.isNaN { continue }
        if x == y { continue }
        let excess = abs(x - y) - (atol + rtol * abs(y))
        if !(excess <= 0) && (excess > worst || excess.isNaN) { worst = excess.isNaN ? .infinity : excess; worstAt = i }
    }
    if worstAt >= 0 {
        XCTFail("\(what()): element \(worstAt): \(a[worstAt]) vs \(b[worstAt]) (rtol \(rtol), atol \(atol))", file: file, line: line)
    }
}

/// Central finite difference of a scalar function f at parameter index i of `x` (in Double).
func centralDifference(_ x: inout [Double], _ i: Int, h: Double = 1e-6, _ f: ([Double]) -> Double) -> Double {
    let old = x[i]
    x[i] = old + h; let fp = f(x)
    x[i] = old - h; let fm = f(x)
    x[i] = old
    return (fp - fm) / (2 * h)
}
