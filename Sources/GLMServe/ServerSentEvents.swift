import Foundation
import Hummingbird

/// Server-sent event responses (`text/event-stream`): each event is `event: NAME` (optional) and
/// one `data:` line of JSON, then a blank line; every event is flushed as it is written.
enum ServerSentEvents {
    static let contentType = "text/event-stream"

    /// One event's bytes. `data` must be one line (JSON without newlines, or `[DONE]`).
    static func event(_ name: String?, _ data: String) -> ByteBuffer {
        var s = ""
        if let name { s += "event: \(name)\n" }
        s += "data: \(data)\n\n"
        return ByteBuffer(string: s)
    }

    /// One line of JSON.
    static func json<T: Encodable>(_ value: T) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? enc.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// A 200 response whose body `produce` writes through `send(event, data)`; `produce` returns
    /// the status that the metrics record for the stream (200, or that of the error event it
    /// ended with), measured from `start` to the last byte.
    static func response(server: GLMServer, endpoint: String, start: Double,
                         produce: @escaping @Sendable (_ send: (String?, String) async throws -> Void) async throws -> Int) -> Response {
        let metrics = server.metrics
        return Response(status: .ok,
                        headers: [.contentType: contentType, .cacheControl: "no-cache"],
                        body: ResponseBody { writer in
            var status = 499   // the client went away before the end
            defer { metrics.record(endpoint: endpoint, status: status, seconds: ServerMetrics.now() - start) }
            status = try await produce { name, data in try await writer.write(event(name, data)) }
            try await writer.finish(nil)
        })
    }
}
