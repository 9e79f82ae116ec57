// libFuzzer entry point for the GGUF reader (built by fuzz/run-import, not by SwiftPM): open,
// read every metadata value through the typed accessors, dequantize every tensor, and build the
// tokenizer from the metadata. Any error must be typed; a crash or sanitizer report is a bug.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let file = try GGUFFile(bytes: bytes, path: "fuzz", limits: importFuzzLimits)
        for key in file.metadata.keys {
            _ = try? file.metadata.string(key); _ = try? file.metadata.int(key); _ = try? file.metadata.float(key)
            _ = try? file.metadata.strings(key); _ = try? file.metadata.ints(key)
        }
        if let tokenizer = try? ByteLevelBPETokenizer(gguf: file.metadata) {
            _ = tokenizer.decode(tokenizer.encode("Hello, world! 123 <|im_start|>"))
        }
        _ = try file.readAll()
    } catch let e as ImportError {
        _ = e.description
    } catch {
        fatalError("untyped error from the GGUF reader: \(error)")
    }
    return 0
}
