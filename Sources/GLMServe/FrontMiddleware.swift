import Foundation
import Hummingbird

/// In front of every route: the API key check, every error as an OpenAI-shaped JSON body, and the
/// request metrics (server-sent event streams record themselves when they end).
struct FrontMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let server: GLMServer

    /// Paths that need the API key when one is set: the API and the metrics. The page and
    /// `/health` stay open (the page asks for the key and sends it with its calls).
    static func needsKey(_ path: String) -> Bool { path.hasPrefix("/v1/") || path == "/v1" || path == "/metrics" }

    /// The metrics label of a path: one of the routes, or `other` (no unbounded label values).
    static func endpoint(_ path: String) -> String {
        if path.hasPrefix("/v1/models") { return "/v1/models" }
        return ["/", "/health", "/metrics", "/v1/fill", "/v1/completions"].contains(path) ? path : "other"
    }

    func handle(_ request: Request, context: ServeContext, next: (Request, ServeContext) async throws -> Response) async throws -> Response {
        let start = ServerMetrics.now()
        let endpoint = Self.endpoint(request.uri.path)
        var response: Response
        do {
            if let key = server.options.apiKey, Self.needsKey(request.uri.path) {
                try Self.checkKey(request.headers[.authorization], key)
            }
            response = try await next(request, context)
        } catch let e as APIError {
            response = Self.response(e)
        } catch let e as HTTPError {
            // The router's own errors (no such route, wrong method).
            let status = Int(e.status.code)
            let message = status == 404 ? "no route \(request.method) \(request.uri.path); see GET / and docs/serve.md"
                : status == 405 ? "\(request.method) is not allowed on \(request.uri.path)" : (e.body ?? e.status.reasonPhrase)
            response = Self.response(APIError(status: status, message))
        } catch {
            response = Self.response(APIError(status: 500, "internal error: \(error)"))
        }
        if response.headers[.contentType] != ServerSentEvents.contentType {
            server.metrics.record(endpoint: endpoint, status: Int(response.status.code), seconds: ServerMetrics.now() - start)
        }
        return response
    }

    /// Throws 401 unless `header` is `Bearer <key>` (compared in constant time).
    static func checkKey(_ header: String?, _ key: String) throws {
        let wrong = APIError(status: 401, "this server needs an API key: send the header 'Authorization: Bearer <key>'", code: "invalid_api_key")
        guard let header, header.hasPrefix("Bearer ") else { throw wrong }
        let given = Array(header.dropFirst("Bearer ".count).utf8), want = Array(key.utf8)
        var diff = given.count ^ want.count
        for i in 0..<want.count { diff |= Int(want[i] ^ (i < given.count ? given[i] : 0)) }
        guard diff == 0 else { throw wrong }
    }

    /// The JSON response of an error.
    static func response(_ e: APIError) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if e.status == 401 { headers[.wwwAuthenticate] = "Bearer" }
        if e.status == 413 { headers[.connection] = "close" }
        return Response(status: .init(code: e.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: e.json)))
    }
}

/// JSON and text responses.
enum Reply {
    static func json(_ data: Data, status: Int = 200) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func json<T: Encodable>(_ value: T, status: Int = 200) throws -> Response {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return json(try enc.encode(value), status: status)
    }

    static func text(_ s: String, contentType: String) -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: s)))
    }
}
