import Foundation

/// An error answered to a request: an HTTP status and an OpenAI-shaped JSON body
/// `{"error": {"message", "type", "param", "code"}}`, where `param` names the request field at
/// fault (null when no one field is).
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status.
    public var status: Int
    /// What went wrong, naming the field first when one is at fault (`"top_p: must be …"`).
    public var message: String
    /// The request field at fault (`"temperature"`, `"prompt"`, …).
    public var param: String?
    /// OpenAI's error type: `invalid_request_error`, `authentication_error`, `rate_limit_error`,
    /// `timeout_error`, `server_error`, `not_found_error`.
    public var type: String
    /// A short machine-readable code (`queue_full`, `model_not_found`, …) or nil.
    public var code: String?

    public init(status: Int, _ message: String, param: String? = nil, type: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.param = param
        self.type = type ?? Self.type(for: status)
        self.code = code
    }

    /// 400 naming `field`.
    public static func field(_ field: String, _ message: String) -> APIError {
        APIError(status: 400, "\(field): \(message)", param: field)
    }

    public var description: String { "\(status) \(message)" }

    /// A decoding's failure as an answer: itself when it is one, 499 (nginx's "client closed
    /// request", for the metrics) when it was cancelled, 500 otherwise.
    static func from(_ error: any Error) -> APIError {
        if let e = error as? APIError { return e }
        if error is CancellationError { return APIError(status: 499, "the request was cancelled", code: "cancelled") }
        return APIError(status: 500, "decoding failed: \(error)")
    }

    static func type(for status: Int) -> String {
        switch status {
        case 401: return "authentication_error"
        case 404: return "not_found_error"
        case 408: return "timeout_error"
        case 429: return "rate_limit_error"
        case 500...: return "server_error"
        default: return "invalid_request_error"
        }
    }

    struct Body: Encodable {
        struct Inner: Encodable {
            let message: String
            let type: String
            let param: String?
            let code: String?
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(message, forKey: .message)
                try c.encode(type, forKey: .type)
                try c.encode(param, forKey: .param)   // explicit null, as OpenAI sends
                try c.encode(code, forKey: .code)
            }
            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }
        let error: Inner
    }

    /// The JSON body.
    public var json: Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? enc.encode(Body(error: .init(message: message, type: type, param: param, code: code)))) ?? Data("{}".utf8)
    }
}
