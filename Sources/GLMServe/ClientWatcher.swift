import Foundation
import NIOCore

/// Notices when a client goes away: one per connection, in the channel pipeline after HTTP
/// decoding. The server allows half-closed connections, so a client that closes its socket shows
/// as end of input while its request is still decoding (nothing is written to it yet); that, or
/// the connection closing, runs the callbacks the connection's requests registered, which cancel
/// their decoding.
final class ClientWatcher: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer   // never unwrapped: reads pass through untouched

    private let lock = NSLock()
    private var gone = false
    private var callbacks: [Int: @Sendable () -> Void] = [:]
    private var next = 0

    /// Runs `body` once the client is gone (now, if it already is). Returns a token for
    /// ``remove(_:)``, or nil when it ran at once.
    func onGone(_ body: @escaping @Sendable () -> Void) -> Int? {
        lock.lock()
        if gone { lock.unlock(); body(); return nil }
        next += 1
        callbacks[next] = body
        lock.unlock()
        return next
    }

    /// Forgets a callback (its request finished).
    func remove(_ token: Int?) {
        guard let token else { return }
        _ = lock.withLock { callbacks.removeValue(forKey: token) }
    }

    private func markGone() {
        let run = lock.withLock { () -> [@Sendable () -> Void] in
            guard !gone else { return [] }
            gone = true
            defer { callbacks = [:] }
            return Array(callbacks.values)
        }
        for f in run { f() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, case .inputClosed = e { markGone() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        markGone()
        context.fireChannelInactive()
    }
}
