// Limits shared by the GGUF and safetensors fuzz targets (built by fuzz/run-import).

/// Small limits: a fuzz input must not be able to ask for more than a few MB.
let importFuzzLimits: ImportLimits = {
    var l = ImportLimits()
    l.maxHeaderBytes = 1 << 20
    l.maxArrayCount = 1 << 16
    l.maxMetadataBytes = 16 << 20
    l.maxTensorBytes = 32 << 20
    l.maxDimension = 1 << 24
    return l
}()
