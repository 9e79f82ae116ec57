import RFTModel

/// Writes small GGUF v3 files for the tests (and the fuzz corpus): header, metadata, tensor
/// infos with aligned offsets in order, padding, data. Records where each section starts so
/// that corruption tests can damage one field.
struct GGUFBuilder {
    struct Tensor { var name: String; var dims: [Int]; var type: GGMLType; var data: [UInt8] }
    struct Layout { var kvStart = 0, infoStart = 0, dataStart = 0; var infos: [Int] = []; var offsetFields: [Int] = [] }

    var version: UInt32 = 3
    var metadata: [(String, GGUFValue)] = []
    var tensors: [Tensor] = []
    /// Padding used between tensors and before the data (set `general.alignment` to match).
    var alignment = 32

    func build() -> (bytes: [UInt8], layout: Layout) {
        var out: [UInt8] = Array("GGUF".utf8)
        var layout = Layout()
        out.le(version)
        out.le(UInt64(tensors.count))
        out.le(UInt64(metadata.count))
        layout.kvStart = out.count
        for (key, value) in metadata {
            out.ggufString(key)
            out.le(value.type.rawValue)
            out.ggufValue(value)
        }
        layout.infoStart = out.count
        var offset = 0
        for t in tensors {
            layout.infos.append(out.count)
            out.ggufString(t.name)
            out.le(UInt32(t.dims.count))
            for d in t.dims { out.le(UInt64(d)) }
            out.le(t.type.rawValue)
            layout.offsetFields.append(out.count)
            out.le(UInt64(offset))
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        while out.count % alignment != 0 { out.append(0) }
        layout.dataStart = out.count
        for t in tensors {
            out += t.data
            while (out.count - layout.dataStart) % alignment != 0 { out.append(0) }
        }
        return (out, layout)
    }
}

extension Array where Element == UInt8 {
    mutating func le<T: FixedWidthInteger>(_ v: T) {
        var x = v.littleEndian
        Swift.withUnsafeBytes(of: &x) { append(contentsOf: $0) }
    }
    mutating func ggufString(_ s: String) {
        le(UInt64(s.utf8.count))
        append(contentsOf: s.utf8)
    }
    mutating func ggufValue(_ v: GGUFValue) {
        switch v {
        case .uint8(let x): le(x)
        case .int8(let x): le(x)
        case .uint16(let x): le(x)
        case .int16(let x): le(x)
        case .uint32(let x): le(x)
        case .int32(let x): le(x)
        case .uint64(let x): le(x)
        case .int64(let x): le(x)
        case .float32(let x): le(x.bitPattern)
        case .float64(let x): le(x.bitPattern)
        case .bool(let b): append(b ? 1 : 0)
        case .string(let s): ggufString(s)
        case .array(let type, let items):
            le(type.rawValue)
            le(UInt64(items.count))
            for item in items { ggufValue(item) }
        }
    }
}

/// Hand-made ggml blocks.
enum GGMLBlocks {
    static func half(_ x: Float) -> [UInt8] { let b = Float16(x).bitPattern; return [UInt8(b & 0xFF), UInt8(b >> 8)] }
    /// Q8_0: scale d, 32 signed values.
    static func q8_0(d: Float, _ q: [Int8]) -> [UInt8] { half(d) + q.map { UInt8(bitPattern: $0) } }
    /// Q4_0: scale d, 32 values in 0…15 (stored as lo nibbles = first 16, hi nibbles = last 16).
    static func q4_0(d: Float, _ q: [UInt8]) -> [UInt8] { half(d) + (0..<16).map { q[$0] | q[$0 + 16] << 4 } }
    /// Q4_1: scale d, minimum m, 32 values in 0…15.
    static func q4_1(d: Float, m: Float, _ q: [UInt8]) -> [UInt8] { half(d) + half(m) + (0..<16).map { q[$0] | q[$0 + 16] << 4 } }
    static func f32(_ xs: [Float]) -> [UInt8] { var o: [UInt8] = []; for x in xs { o.le(x.bitPattern) }; return o }
    static func f16(_ xs: [Float]) -> [UInt8] { xs.flatMap(half) }
    static func bf16(_ xs: [Float]) -> [UInt8] { xs.flatMap { x -> [UInt8] in let b = HalfPrecision.bfloat16(x); return [UInt8(b & 0xFF), UInt8(b >> 8)] } }
}

/// A small valid GGUF exercising every metadata type and every convertible tensor type.
func sampleGGUF() -> GGUFBuilder {
    var b = GGUFBuilder()
    b.metadata = [
        ("general.architecture", .string("llama")),
        ("general.alignment", .uint32(32)),
        ("llama.block_count", .uint32(2)),
        ("llama.rope.freq_base", .float32(10000)),
        ("t.u8", .uint8(200)), ("t.i8", .int8(-5)), ("t.u16", .uint16(60000)), ("t.i16", .int16(-300)),
        ("t.i32", .int32(-70000)), ("t.u64", .uint64(1 << 40)), ("t.i64", .int64(-(1 << 40))), ("t.f64", .float64(0.125)),
        ("t.bool", .bool(true)), ("t.strings", .array(.string, [.string("a"), .string("béta"), .string("")])),
        ("t.nested", .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.int32, [])])),
        ("t.floats", .array(.float32, [.float32(0.5), .float32(-2)])),
    ]
    let q = (0..<32).map { UInt8($0 % 16) }
    b.tensors = [
        .init(name: "f32", dims: [3, 2], type: .f32, data: GGMLBlocks.f32([1, 2, 3, 4, 5, 6])),
        .init(name: "f16", dims: [4], type: .f16, data: GGMLBlocks.f16([0.5, -1, 65504, 6e-8])),
        .init(name: "bf16", dims: [2], type: .bf16, data: GGMLBlocks.bf16([1.5, -3])),
        .init(name: "q8_0", dims: [32, 2], type: .q8_0,
              data: GGMLBlocks.q8_0(d: 0.5, (0..<32).map { Int8($0 * 8 - 128) }) + GGMLBlocks.q8_0(d: -0.25, (0..<32).map { Int8(127 - $0) })),
        .init(name: "q4_0", dims: [32], type: .q4_0, data: GGMLBlocks.q4_0(d: 0.25, q)),
        .init(name: "q4_1", dims: [32], type: .q4_1, data: GGMLBlocks.q4_1(d: 0.5, m: -1, q)),
        .init(name: "empty", dims: [0, 4], type: .f32, data: []),
    ]
    return b
}
