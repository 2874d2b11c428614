import Foundation
import XCTest
import GLMTrain

/// The event file is TFRecord framing (length, masked CRC-32C of the length, the `Event` proto,
/// its masked CRC) around `Event { wall_time = 1, step = 2, summary = 5 { value = 1 { tag = 1,
/// simple_value = 2 } } }`, what TensorBoard reads. Decoded here by hand from the wire format.
final class TensorBoardTests: XCTestCase {
    /// CRC-32C bit by bit, and TensorFlow's masking, written out independently of the library.
    static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        }
        c = ~c
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }

    static func le<T: FixedWidthInteger>(_ b: ArraySlice<UInt8>, as: T.Type) -> T {
        b.enumerated().reduce(T(0)) { $0 | T($1.element) << (8 * $1.offset) }
    }

    /// Fields of one proto message: (field number, wire type, payload bytes or varint value).
    static func fields(_ m: [UInt8]) -> [(Int, Int, [UInt8], UInt64)] {
        var out: [(Int, Int, [UInt8], UInt64)] = [], i = 0
        func varint() -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true { let b = m[i]; i += 1; v |= UInt64(b & 0x7F) << shift; if b < 0x80 { return v }; shift += 7 }
        }
        while i < m.count {
            let key = varint(), field = Int(key >> 3), wire = Int(key & 7)
            switch wire {
            case 0: out.append((field, 0, [], varint()))
            case 1: out.append((field, 1, Array(m[i..<(i + 8)]), 0)); i += 8
            case 5: out.append((field, 5, Array(m[i..<(i + 4)]), 0)); i += 4
            default: let n = Int(varint()); out.append((field, 2, Array(m[i..<(i + n)]), 0)); i += n
            }
        }
        return out
    }

    func testEventFileRecordsAreFramedAndHoldTheScalars() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let w = try TensorBoardWriter(folder: dir)
            w.scalar("train/loss", 4.25, step: 7)
            w.scalar("valid/loss", -1.5, step: 300)
            w.flush()
        }
        let file = try XCTUnwrap(FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil).first)
        let bytes = [UInt8](try Data(contentsOf: file))
        var records: [[UInt8]] = [], at = 0
        while at < bytes.count {
            let lenBytes = Array(bytes[at..<(at + 8)])
            let n = Int(Self.le(bytes[at..<(at + 8)], as: UInt64.self))
            XCTAssertEqual(Self.le(bytes[(at + 8)..<(at + 12)], as: UInt32.self), Self.maskedCRC(lenBytes))
            let data = Array(bytes[(at + 12)..<(at + 12 + n)])
            XCTAssertEqual(Self.le(bytes[(at + 12 + n)..<(at + 16 + n)], as: UInt32.self), Self.maskedCRC(data))
            records.append(data)
            at += 16 + n
        }
        XCTAssertEqual(records.count, 3)
        // The version record: file_version = 3 "brain.Event:2".
        XCTAssertTrue(Self.fields(records[0]).contains { $0.0 == 3 && String(decoding: $0.2, as: UTF8.self) == "brain.Event:2" })
        for (record, (tag, value, step)) in zip(records.dropFirst(), [("train/loss", Float(4.25), UInt64(7)), ("valid/loss", -1.5, 300)]) {
            let event = Self.fields(record)
            XCTAssertEqual(event.first { $0.0 == 2 }?.3, step)
            let summary = try XCTUnwrap(event.first { $0.0 == 5 }?.2)
            let v = Self.fields(try XCTUnwrap(Self.fields(summary).first { $0.0 == 1 }?.2))
            XCTAssertEqual(v.first { $0.0 == 1 }.map { String(decoding: $0.2, as: UTF8.self) }, tag)
            XCTAssertEqual(v.first { $0.0 == 2 }.map { Float(bitPattern: Self.le($0.2[...], as: UInt32.self)) }, value)
        }
    }
}
