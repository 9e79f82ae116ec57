// libFuzzer entry point for the safetensors reader (built by fuzz/run-import, not by SwiftPM):
// open, then read every tensor. Any error must be typed; a crash or sanitizer report is a bug.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let file = try SafetensorsFile(bytes: bytes, path: "fuzz", limits: importFuzzLimits)
        _ = try file.readAll()
    } catch let e as ImportError {
        _ = e.description
    } catch {
        fatalError("untyped error from the safetensors reader: \(error)")
    }
    return 0
}
