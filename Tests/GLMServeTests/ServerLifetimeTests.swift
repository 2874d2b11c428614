import Foundation
import XCTest
import GLM
import GLMServe

/// A server that is built and never run ends its decoding thread when released, and with it the
/// engine, the cache and the model (the thread used to keep them for the rest of the process).
final class ServerLifetimeTests: XCTestCase {
    func testAServerThatNeverRanFreesItsModel() throws {
        weak var model: GLMModel?
        weak var server: GLMServer?
        try { () throws -> Void in
            let served = try ServedModel.load(folder: try Fixture.modelFolder().path, id: "lifetime")
            model = served.model
            var o = ServeOptions()
            o.port = 0
            let s = try GLMServer(model: served, options: o)
            server = s
        }()
        XCTAssertNil(server, "GLMServer leaked")
        // The decoding thread lets go of the loop when it has exited, a moment after stop().
        let deadline = Date().addingTimeInterval(5)
        while model != nil && Date() < deadline { usleep(1000) }
        XCTAssertNil(model, "the model of a server that never ran leaked")
    }
}
