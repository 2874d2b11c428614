#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Thin wrappers over the system calls the durable writers need, turning errno into ``SystemError``.
enum Posix {
    static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    static func fail(_ path: String, _ operation: String, _ code: Int32 = errno) -> SystemError {
        if code == ENOENT { return .notFound(path: path) }
        return .io(path: path, operation: operation, reason: errorText(code))
    }

    /// fsync(2) of a folder, so that the names created or renamed in it survive a power cut.
    static func fsyncFolder(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw fail(path, "open folder") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw fail(path, "fsync folder") }
    }

    /// fsync(2) of a file by path.
    static func fsyncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail(path, "open") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw fail(path, "fsync") }
    }

    /// fsync of every file and folder under `path` (children before their folder), for trees
    /// written by code that does not fsync itself (copies, JSON writes).
    static func fsyncTree(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw fail(path, "stat") }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            // An explicit stack: the tree's depth is whatever a caller built, never recursion.
            var folders = [path], order: [String] = []
            while let dir = folders.popLast() {
                order.append(dir)
                let names: [String]
                do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
                    throw SystemError.io(path: dir, operation: "list folder", reason: error.localizedDescription)
                }
                for n in names {
                    let child = dir + "/" + n
                    var cs = stat()
                    guard lstat(child, &cs) == 0 else { throw fail(child, "stat") }
                    switch cs.st_mode & S_IFMT {
                    case S_IFDIR: folders.append(child)
                    case S_IFREG: try fsyncFile(child)
                    default: break  // links and special files carry no data of ours
                    }
                }
            }
            for dir in order.reversed() { try fsyncFolder(dir) }
        case S_IFREG: try fsyncFile(path)
        default: break
        }
    }

    /// A small text file read with read(2) until its end, for /proc and /sys files whose size stat
    /// reports as 0 (Foundation's readers leak a buffer on those); nil when unreadable.
    static func readSmallFile(_ path: String, limit: Int = 1 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = [], buf = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The folder that holds `path` (for fsync after a rename).
    static func parent(_ path: String) -> String {
        let p = (path as NSString).deletingLastPathComponent
        return p.isEmpty ? "." : p
    }

    /// Swaps two existing paths in one step (Linux `renameat2(RENAME_EXCHANGE)`), so there is no
    /// moment at which neither exists. Returns false when the kernel or file system lacks it.
    static func exchange(_ a: String, _ b: String) throws -> Bool {
        #if os(Linux)
        guard let fn = renameat2 else { return false }
        let r = fn(AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */)
        if r == 0 { return true }
        let code = errno
        if code == ENOSYS || code == EINVAL || code == ENOTSUP || code == EOPNOTSUPP { return false }
        throw SystemError.io(path: b, operation: "exchange with \(a)", reason: errorText(code))
        #else
        return false
        #endif
    }

    #if os(Linux)
    typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    /// glibc ≥ 2.28 exports `renameat2`; looked up at run time so older systems fall back to rename.
    static let renameat2: RenameAt2? = {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(sym, to: RenameAt2.self)
    }()
    #endif
}
