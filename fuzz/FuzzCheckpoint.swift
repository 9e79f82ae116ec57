// libFuzzer entry point for the checkpoint reader (built by fuzz/run, not by SwiftPM).
// Each input is read twice: as is, and with the header/table checksum recomputed, so that the
// fuzzer also reaches the table parser, the JSON header decoder and the zstd frames behind it.
import RFTTensor

/// Small limits: a fuzz input must not be able to ask for more than a few MB.
let fuzzLimits: CheckpointLimits = {
    var l = CheckpointLimits()
    l.maxHeaderBytes = 1 << 20
    l.maxTableBytes = 1 << 20
    l.maxChunkBytes = 8 << 20
    l.maxTensorBytes = 32 << 20
    l.maxTotalBytes = 64 << 20
    return l
}()

func readFully(_ bytes: [UInt8]) {
    do {
        let reader = try CheckpointReader(bytes: bytes, path: "fuzz", limits: fuzzLimits)
        let tensors = try reader.readTensors(threads: 1)
        let checkpoint = Checkpoint(header: reader.header, tensors: tensors)
        if let model = try? checkpoint.makeModel(path: "fuzz") { _ = model.parameterCount }
    } catch let e as CheckpointError {
        _ = e.description
    } catch {
        fatalError("untyped error from the reader: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    readFully(bytes)
    // Same input with a valid header checksum, when the declared sizes fit the input.
    if bytes.count >= 40 {
        var header: UInt64 = 0, table: UInt64 = 0
        for i in 0..<8 { header |= UInt64(bytes[16 + i]) << (8 * i); table |= UInt64(bytes[24 + i]) << (8 * i) }
        if header <= UInt64(bytes.count), table <= UInt64(bytes.count), 40 + header + table <= UInt64(bytes.count) {
            var fixed = bytes
            let end = 40 + Int(header) + Int(table)
            let checksum = CheckpointReader.checksum(Array(fixed[0..<end]))
            for i in 0..<8 { fixed[32 + i] = UInt8(truncatingIfNeeded: checksum >> (8 * UInt64(i))) }
            if fixed != bytes { readFully(fixed) }
        }
    }
    return 0
}
