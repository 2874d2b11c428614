import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A small blocking HTTP/1.1 client over one keep-alive TCP connection: what the load test
/// (``LoadTest``) and the server's tests use to talk to `glm serve`. It reads `Content-Length` and
/// chunked bodies, and can stream a body piece by piece (server-sent events) and drop the
/// connection mid-way, as a client that goes away does. Use it from one thread at a time
/// (``shutdownWrite()`` may come from another, to end a blocked read).
public final class LoopbackClient: @unchecked Sendable {
    /// A response: status, headers (names lower-cased), body.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
        /// The body as a JSON object (nil if it is not one).
        public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public let host: String
    public let port: Int
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private var start = 0

    /// Connects to `host:port` (an IPv4 address); reads give up after `timeout` seconds of silence.
    public init(host: String = "127.0.0.1", port: Int, timeout: Double = 30) throws {
        self.host = host
        self.port = port
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var tv = timeval()
        tv.tv_sec = .init(timeout)
        tv.tv_usec = .init((timeout - timeout.rounded(.down)) * 1e6)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { close(); throw Failure(description: "not an IPv4 address: \(host)") }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = String(cString: strerror(errno))
            close()
            throw Failure(description: "connect to \(host):\(port): \(e)")
        }
    }

    deinit { close() }

    /// Closes the connection (a client going away).
    public func close() {
        if fd >= 0 { closeSocket(fd) }
        fd = -1
    }

    /// Closes the sending side only: the server sees the end of input.
    public func shutdownWrite() { if fd >= 0 { _ = shutdown(fd, Int32(SHUT_WR)) } }

    /// Sends one request.
    public func send(_ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil) throws {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { sendBytes(fd, $0) }
            guard n > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// One request and its whole response.
    public func request(_ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil) throws -> Response {
        try send(method, path, headers: headers, body: body)
        var data = Data()
        let (status, h) = try readHead()
        try readBody(h) { data.append(contentsOf: $0); return true }
        return Response(status: status, headers: h, body: data)
    }

    /// A POST of a JSON object.
    public func post(_ path: String, json: [String: Any], headers: [String: String] = [:]) throws -> Response {
        try request("POST", path, headers: headers.merging(["Content-Type": "application/json"]) { a, _ in a },
                    body: try JSONSerialization.data(withJSONObject: json))
    }

    /// Sends a request and hands its body to `onEvent` one server-sent event at a time (event
    /// name or nil, data); `onEvent` returns false to stop reading (the connection is then
    /// closed). Returns the status and headers.
    @discardableResult
    public func events(_ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil,
                       onEvent: (String?, String) throws -> Bool) throws -> (status: Int, headers: [String: String]) {
        try send(method, path, headers: headers.merging(["Content-Type": "application/json"]) { a, _ in a }, body: body)
        let (status, h) = try readHead()
        var pending: [UInt8] = []
        var stopped = false
        try readBody(h) { piece in
            pending += piece
            while let cut = Self.find([10, 10], in: pending) {
                let block = String(decoding: pending[..<cut], as: UTF8.self)
                pending.removeFirst(cut + 2)
                var name: String?, data = ""
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                    else if line.hasPrefix("data: ") { data += line.dropFirst(6) }
                }
                if try !onEvent(name, data) { stopped = true; return false }
            }
            return true
        }
        if stopped { close() }
        return (status, h)
    }

    // MARK: reading

    private func fill() throws -> Bool {
        if start > 0 && start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw Failure(description: errno == EAGAIN || errno == EWOULDBLOCK ? "timed out waiting for the server" : "recv: \(String(cString: strerror(errno)))") }
        if n == 0 { return false }
        buffer += chunk[..<n]
        return true
    }

    private static func find(_ needle: [UInt8], in hay: some RandomAccessCollection<UInt8>, from: Int = 0) -> Int? {
        let h = Array(hay)
        guard h.count >= needle.count + from else { return nil }
        for i in from...(h.count - needle.count) where h[i] == needle[0] && Array(h[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    private func readLine() throws -> String {
        while true {
            if let i = Self.find([13, 10], in: buffer[start...]) {
                let line = String(decoding: buffer[start..<(start + i)], as: UTF8.self)
                start += i + 2
                return line
            }
            guard try fill() else { throw Failure(description: "the server closed the connection") }
        }
    }

    private func readExactly(_ n: Int) throws -> [UInt8] {
        while buffer.count - start < n { guard try fill() else { throw Failure(description: "the server closed the connection mid-body") } }
        defer { start += n }
        return Array(buffer[start..<(start + n)])
    }

    private func readHead() throws -> (Int, [String: String]) {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "bad status line: \(statusLine)") }
        var headers: [String: String] = [:]
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            if let c = line.firstIndex(of: ":") {
                headers[line[..<c].lowercased()] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return (status, headers)
    }

    private func readBody(_ headers: [String: String], _ sink: ([UInt8]) throws -> Bool) throws {
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else { throw Failure(description: "bad chunk size: \(sizeLine)") }
                if size == 0 {
                    while try !readLine().isEmpty {}
                    return
                }
                let piece = try readExactly(size)
                _ = try readExactly(2)
                if try !sink(piece) { return }
            }
        } else if let n = headers["content-length"].flatMap({ Int($0) }) {
            _ = try sink(try readExactly(n))
        } else {
            while try fill() {}
            _ = try sink(Array(buffer[start...]))
            start = buffer.count
        }
    }
}

// Free functions, because the client's own close() and send(_:_:) shadow the system calls.
private func closeSocket(_ fd: Int32) { _ = close(fd) }
private func sendBytes(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
    send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
}
