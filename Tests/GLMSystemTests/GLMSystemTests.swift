import Foundation
import GLMSystem
import XCTest

final class CRC32CTests: XCTestCase {
    /// RFC 3720 (iSCSI) appendix B.4 test vectors and the common "123456789" check value.
    func testReferenceVectors() {
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32C.hex(0x0000_ABCD), "0000abcd")
    }

    /// Feeding in pieces of every alignment gives the one-shot value; a file gives the same.
    func testStreamingAndFile() throws {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<10_007).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let whole = CRC32C.checksum(bytes)
        for cut in [0, 1, 3, 7, 8, 9, 4096, 10_006] {
            var c = CRC32C()
            c.update(Array(bytes[..<cut]))
            c.update(Array(bytes[cut...]))
            XCTAssertEqual(c.value, whole, "cut \(cut)")
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("crc-\(UUID().uuidString)")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertEqual(try CRC32C.checksum(file: url), whole)
        var flipped = bytes
        flipped[5000] ^= 1
        XCTAssertNotEqual(CRC32C.checksum(flipped), whole)
    }
}

final class AtomicWriteTests: XCTestCase {
    struct Boom: Error {}

    func folder() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("glmsystem-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: u) }
        return u
    }

    func contents(_ dir: URL) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() }

    func testAtomicFileReplacesOnlyOnCommit() throws {
        let dir = try folder()
        let url = dir.appendingPathComponent("a.txt")
        try AtomicFile.write(Data("old".utf8), to: url)
        do {
            let f = try AtomicFile(url)
            try f.write(Array("new, unfinished".utf8))
            XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "old")
        }  // dropped without commit
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "old")
        XCTAssertEqual(try contents(dir), ["a.txt"], "no temporary left behind")
        try AtomicFile.write(Data("new".utf8), to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "new")
        XCTAssertEqual(try contents(dir), ["a.txt"])
        // A folder where the file should go, and a missing folder, are clear errors.
        XCTAssertThrowsError(try AtomicFile.write(Data(), to: dir)) { XCTAssertEqual($0 as? SystemError, .isFolder(path: dir.path)) }
        XCTAssertThrowsError(try AtomicFile.write(Data(), to: dir.appendingPathComponent("no/such/file"))) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
    }

    func testAtomicFolderKeepsTheOldFolderUntilTheNewOneIsComplete() throws {
        for strategy in [AtomicFolder.Strategy.exchange, .renameAside] {
            let dir = try folder()
            let target = dir.appendingPathComponent("model")
            try AtomicFolder.replace(target, strategy: strategy) { try Data("1".utf8).write(to: $0.appendingPathComponent("v")) }
            XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("v"), encoding: .utf8), "1")
            XCTAssertThrowsError(try AtomicFolder.replace(target, strategy: strategy) { tmp in
                try Data("2".utf8).write(to: tmp.appendingPathComponent("v"))
                throw Boom()
            })
            XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("v"), encoding: .utf8), "1", "a failed fill changes nothing")
            XCTAssertEqual(try contents(dir), ["model"], "no temporary folder left behind")
            try AtomicFolder.replace(target, strategy: strategy) { try Data("3".utf8).write(to: $0.appendingPathComponent("w")) }
            XCTAssertEqual(try contents(target), ["w"])
            XCTAssertEqual(try contents(dir), ["model"], "the old folder is deleted once replaced")
        }
    }

    /// The root, the working folder and its ancestors are refused before anything is written.
    /// (The fill throws, so even a failed refusal could not replace anything.)
    func testAtomicFolderRefusesTheRootAndTheWorkingFolder() throws {
        let cwd = FileManager.default.currentDirectoryPath
        for path in ["/", "/tmp/..", ".", cwd, (cwd as NSString).deletingLastPathComponent] {
            XCTAssertThrowsError(try AtomicFolder.replace(URL(fileURLWithPath: path)) { _ in throw Boom() }) {
                guard case SystemError.refusedPath = $0 else { return XCTFail("\(path): \($0)") }
            }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: cwd))
    }

    func testMappedFileErrors() throws {
        let dir = try folder()
        XCTAssertThrowsError(try MappedFile(dir)) { XCTAssertEqual($0 as? SystemError, .isFolder(path: dir.path)) }
        let missing = dir.appendingPathComponent("missing")
        XCTAssertThrowsError(try MappedFile(missing)) { XCTAssertEqual($0 as? SystemError, .notFound(path: missing.path)) }
        let empty = dir.appendingPathComponent("empty")
        _ = FileManager.default.createFile(atPath: empty.path, contents: Data())
        XCTAssertEqual(try MappedFile(empty).count, 0)
    }
}

final class RunLockTests: XCTestCase {
    func testSecondLockFailsNamingTheHolderAndReleaseFreesIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try RunLock.acquire(folder: dir, purpose: "glm pretrain")
        XCTAssertThrowsError(try RunLock.acquire(folder: dir, purpose: "glm pretrain --resume")) { e in
            guard case SystemError.locked(let path, let holder) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(path, dir.appendingPathComponent(RunLock.fileName).path)
            XCTAssertTrue(holder.contains("PID \(getpid())"), holder)
            XCTAssertTrue(holder.contains("glm pretrain"), holder)
        }
        first.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent(RunLock.fileName).path))
        let second = try RunLock.acquire(folder: dir, purpose: "again")
        XCTAssertTrue(second.isHeld)
    }

    /// Another process holding the lock (the util-linux `flock` tool, holding it for 3 s).
    func testLockHeldByAnotherProcess() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else { throw XCTSkip("no flock(1)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let lockFile = dir.appendingPathComponent(RunLock.fileName).path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        p.arguments = [lockFile, "-c", "printf 'pid %s\\npurpose shell\\n' $$ > \(lockFile); sleep 3"]
        try p.run()
        defer { p.waitUntilExit() }
        // Wait until the other process holds the lock and has written its name.
        for _ in 0..<200 where !((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").contains("shell") { usleep(10_000) }
        XCTAssertThrowsError(try RunLock.acquire(folder: dir, purpose: "test")) { e in
            guard case SystemError.locked(_, let holder) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(holder.contains("shell"), holder)
            XCTAssertFalse(holder.contains("PID \(getpid())"), holder)
        }
        p.waitUntilExit()
        XCTAssertNoThrow(try RunLock.acquire(folder: dir, purpose: "after").release())
    }
}

final class MemoryTests: XCTestCase {
    func testSizesAndChecks() {
        XCTAssertEqual(SystemMemory.parseSize("64K"), 65536)
        XCTAssertEqual(SystemMemory.parseSize("1.5G"), 1_610_612_736)
        XCTAssertNil(SystemMemory.parseSize("lots"))
        XCTAssertNil(SystemMemory.parseSize("1e30"))
        XCTAssertGreaterThan(SystemMemory.available(), 0)
        XCTAssertThrowsError(try SystemMemory.require(Int.max, for: "everything")) { e in
            guard case SystemError.insufficientMemory(let what, let need, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(what, "everything")
            XCTAssertEqual(need, Int.max)
        }
        XCTAssertNoThrow(try SystemMemory.require(1, for: "a byte"))
        XCTAssertNil(CheckedSize.product([1 << 40, 1 << 30]))
        XCTAssertNil(CheckedSize.product([3, -1]))
        XCTAssertEqual(CheckedSize.product([]), 1)
        XCTAssertNil(CheckedSize.sum([Int.max, 1]))
        XCTAssertEqual(formatBytes(1536), "1.5 KiB")
    }
}
