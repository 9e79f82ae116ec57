import CZstd
import Dispatch
import Foundation
import RFTTensor

/// Opens a checkpoint and validates its structure — magic, version, every size against the file
/// length and the limits, the header/table checksum, the JSON header and the tensor table —
/// before it allocates anything for tensors. Tensor data is read (and each chunk's checksum
/// verified) by `readTensors` or `verify`.
public final class CheckpointReader: @unchecked Sendable {
    /// The path used in error messages.
    public let path: String
    /// The file's length in bytes.
    public let fileSize: UInt64
    /// The format version in the file.
    public let version: UInt32
    /// The decoded JSON header.
    public let header: CheckpointHeader
    /// The JSON header's raw bytes (for printing).
    public let headerBytes: [UInt8]
    /// The tensor table in file order.
    public let entries: [CheckpointTableEntry]
    /// The limits this reader enforces.
    public let limits: CheckpointLimits
    let source: CheckpointSource

    /// Opens and validates the checkpoint file at `path`.
    public convenience init(path: String, limits: CheckpointLimits = .default) throws {
        try self.init(source: FileSource(path: path), path: path, limits: limits)
    }

    /// Validates a checkpoint held in memory; `path` only names it in errors.
    public convenience init(bytes: [UInt8], path: String = "<memory>", limits: CheckpointLimits = .default) throws {
        try self.init(source: MemorySource(bytes: bytes), path: path, limits: limits)
    }

    init(source: CheckpointSource, path: String, limits: CheckpointLimits) throws {
        self.source = source
        self.path = path
        self.limits = limits
        let size = source.size
        fileSize = size
        let pre = CheckpointFormat.preambleSize

        // Preamble: magic first (so a non-checkpoint is called that), then version, then sizes.
        var preamble = [UInt8](repeating: 0, count: Int(min(UInt64(pre), size)))
        try preamble.withUnsafeMutableBytes { try source.read(into: $0, at: 0) }
        guard preamble.count >= 8 else {
            throw CheckpointError.truncated(path: path, section: "magic", needed: 8, fileSize: size)
        }
        guard Array(preamble[0..<8]) == CheckpointFormat.magic else { throw CheckpointError.badMagic(path: path) }
        guard preamble.count >= 12 else {
            throw CheckpointError.truncated(path: path, section: "version", needed: 12, fileSize: size)
        }
        var cursor = ByteCursor(bytes: preamble, position: 8)
        let version = cursor.read(UInt32.self)!
        guard CheckpointFormat.readableVersions.contains(version) else {
            throw CheckpointError.unsupportedVersion(path: path, version: version)
        }
        self.version = version
        guard preamble.count >= pre else {
            throw CheckpointError.truncated(path: path, section: "preamble", needed: UInt64(pre), fileSize: size)
        }
        _ = cursor.read(UInt32.self)  // reserved (covered by the checksum)
        let headerLength = cursor.read(UInt64.self)!
        let tableLength = cursor.read(UInt64.self)!
        let storedChecksum = cursor.read(UInt64.self)!
        guard headerLength <= limits.maxHeaderBytes else {
            throw CheckpointError.sizeOutOfBounds(path: path, field: "header length", value: headerLength, limit: limits.maxHeaderBytes)
        }
        guard tableLength <= limits.maxTableBytes else {
            throw CheckpointError.sizeOutOfBounds(path: path, field: "table length", value: tableLength, limit: limits.maxTableBytes)
        }
        let headerEnd = UInt64(pre) + headerLength  // both bounded: no overflow
        guard headerEnd <= size else {
            throw CheckpointError.truncated(path: path, section: "header", needed: headerEnd, fileSize: size)
        }
        let tableEnd = headerEnd + tableLength
        guard tableEnd <= size else {
            throw CheckpointError.truncated(path: path, section: "tensor table", needed: tableEnd, fileSize: size)
        }

        // Header and table, checked as one block before either is parsed.
        var block = [UInt8](repeating: 0, count: Int(tableEnd))
        try block.withUnsafeMutableBytes { try source.read(into: $0, at: 0) }
        let checksum = CheckpointReader.checksum(block)
        guard checksum == storedChecksum else {
            throw CheckpointError.headerChecksumMismatch(path: path, stored: storedChecksum, computed: checksum)
        }
        headerBytes = Array(block[pre..<Int(headerEnd)])
        let tableBytes = Array(block[Int(headerEnd)..<Int(tableEnd)])

        let decoded: CheckpointHeader
        do {
            decoded = try JSONDecoder().decode(CheckpointHeader.self, from: Data(headerBytes))
        } catch {
            throw CheckpointError.malformedHeader(path: path, reason: CheckpointReader.describe(error))
        }
        if let problem = decoded.validationError() {
            throw CheckpointError.malformedHeader(path: path, reason: problem)
        }
        header = decoded
        entries = try CheckpointReader.parseTable(tableBytes, payloadStart: tableEnd, fileSize: size, path: path, limits: limits)
    }

    /// XXH64 of preamble, header and table with the checksum field (bytes 32..<40) zeroed: the
    /// value stored at offset 32.
    static func checksum(_ block: [UInt8]) -> UInt64 {
        var copy = block
        for i in 32..<40 where i < copy.count { copy[i] = 0 }
        return copy.withUnsafeBytes { XXH64.hash($0.baseAddress, count: $0.count) }
    }

    /// A short description of a decoding error (no file path: the caller adds it).
    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c): return "invalid JSON at \(codingPath(c.codingPath)): \(c.debugDescription)"
        case DecodingError.keyNotFound(let k, let c): return "missing field \(codingPath(c.codingPath + [k]))"
        case DecodingError.typeMismatch(_, let c): return "wrong type at \(codingPath(c.codingPath)): \(c.debugDescription)"
        case DecodingError.valueNotFound(_, let c): return "null at \(codingPath(c.codingPath))"
        default: return "\(error)"
        }
    }

    private static func codingPath(_ keys: [CodingKey]) -> String {
        keys.isEmpty ? "top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// Parses and validates the binary tensor table: names, dtypes, shapes, chunking, offsets
    /// (contiguous from `payloadStart` to the end of the file) and byte counts.
    static func parseTable(_ bytes: [UInt8], payloadStart: UInt64, fileSize: UInt64, path: String,
                           limits: CheckpointLimits) throws -> [CheckpointTableEntry] {
        var c = ByteCursor(bytes: bytes)
        func bad(_ reason: String) -> CheckpointError { .malformedTable(path: path, reason: reason) }
        guard let count = c.read(UInt32.self) else { throw bad("no entry count") }
        guard UInt64(count) <= limits.maxTensorCount else {
            throw CheckpointError.sizeOutOfBounds(path: path, field: "tensor count", value: UInt64(count), limit: limits.maxTensorCount)
        }
        let minimumEntry = 2 + 1 + 1 + 1 + 32 + 4
        guard Int(count) * minimumEntry <= c.remaining else {
            throw bad("\(count) entries cannot fit in \(c.remaining) bytes")
        }
        var entries: [CheckpointTableEntry] = []
        entries.reserveCapacity(Int(count))
        var names = Set<String>()
        var expectedOffset = payloadStart
        var totalRaw: UInt64 = 0
        for index in 0..<Int(count) {
            guard let nameLength = c.read(UInt16.self) else { throw bad("entry \(index) ends early") }
            guard nameLength > 0, Int(nameLength) <= limits.maxNameBytes else {
                throw bad("entry \(index): name length \(nameLength) not in 1...\(limits.maxNameBytes)")
            }
            guard let nameBytes = c.read(bytes: Int(nameLength)) else { throw bad("entry \(index) ends in its name") }
            guard let name = String(validating: nameBytes, as: UTF8.self) else { throw bad("entry \(index): name is not UTF-8") }
            guard let dtypeCode = c.read(UInt8.self), let rank = c.read(UInt8.self) else { throw bad("tensor \(name) ends early") }
            guard let dtype = CheckpointDType(code: dtypeCode) else { throw bad("tensor \(name): unknown dtype code \(dtypeCode)") }
            guard Int(rank) <= limits.maxRank else {
                throw CheckpointError.invalidShape(path: path, tensor: name, reason: "rank \(rank) above \(limits.maxRank)")
            }
            var shape: [Int] = []
            var elements: UInt64 = 1
            var overflow = false
            for _ in 0..<Int(rank) {
                guard let d = c.read(UInt64.self) else { throw bad("tensor \(name) ends in its shape") }
                guard d <= UInt64(Int32.max) else {
                    throw CheckpointError.invalidShape(path: path, tensor: name, reason: "dimension \(d) above \(Int32.max)")
                }
                shape.append(Int(d))
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                elements = p
                overflow = overflow || o
            }
            guard !overflow, elements <= UInt64(Int.max) / 8 else {
                throw CheckpointError.invalidShape(path: path, tensor: name, reason: "element count of \(shape) overflows")
            }
            guard let offset = c.read(UInt64.self), let stored = c.read(UInt64.self), let raw = c.read(UInt64.self),
                  let chunkElements = c.read(UInt64.self), let chunkCount = c.read(UInt32.self)
            else { throw bad("tensor \(name) ends early") }
            guard !names.contains(name) else { throw CheckpointError.duplicateTensor(path: path, name: name) }
            names.insert(name)
            let width = UInt64(dtype.byteWidth)
            guard raw == elements * width else {
                throw CheckpointError.inconsistentSize(path: path, tensor: name,
                    reason: "\(raw) raw bytes but shape \(shape) of \(dtype.rawValue) needs \(elements * width)")
            }
            guard raw <= limits.maxTensorBytes else {
                throw CheckpointError.sizeOutOfBounds(path: path, field: "tensor \(name) size", value: raw, limit: limits.maxTensorBytes)
            }
            totalRaw += raw
            guard totalRaw <= limits.maxTotalBytes else {
                throw CheckpointError.sizeOutOfBounds(path: path, field: "total tensor size", value: totalRaw, limit: limits.maxTotalBytes)
            }
            guard chunkElements <= limits.maxChunkBytes / width else {
                throw CheckpointError.sizeOutOfBounds(path: path, field: "tensor \(name) chunk size",
                                                      value: chunkElements, limit: limits.maxChunkBytes / width)
            }
            let expectedChunks: UInt64
            if elements == 0 {
                expectedChunks = 0
            } else {
                guard chunkElements > 0 else {
                    throw CheckpointError.inconsistentSize(path: path, tensor: name, reason: "zero elements per chunk")
                }
                expectedChunks = (elements - 1) / chunkElements + 1
            }
            guard UInt64(chunkCount) == expectedChunks else {
                throw CheckpointError.inconsistentSize(path: path, tensor: name,
                    reason: "\(chunkCount) chunks but \(elements) elements in chunks of \(chunkElements) need \(expectedChunks)")
            }
            guard Int(chunkCount) * 16 <= c.remaining else { throw bad("tensor \(name): chunk list ends early") }
            var chunks: [(length: UInt64, checksum: UInt64)] = []
            chunks.reserveCapacity(Int(chunkCount))
            var sum: UInt64 = 0
            for k in 0..<Int(chunkCount) {
                let length = c.read(UInt64.self)!, checksum = c.read(UInt64.self)!
                let chunkRaw = min(chunkElements, elements - UInt64(k) * chunkElements) * width
                guard length > 0, length <= fileSize else {
                    throw CheckpointError.inconsistentSize(path: path, tensor: name, reason: "chunk \(k) has length \(length)")
                }
                guard chunkRaw <= length * CheckpointFormat.maxCompressionRatio else {
                    throw CheckpointError.inconsistentSize(path: path, tensor: name,
                        reason: "chunk \(k) claims \(chunkRaw) bytes from \(length): beyond zstd's maximum ratio")
                }
                sum += length  // each ≤ fileSize, count ≤ 2^32: no overflow
                chunks.append((length, checksum))
            }
            guard sum == stored else {
                throw CheckpointError.inconsistentSize(path: path, tensor: name, reason: "chunks sum to \(sum) bytes, entry says \(stored)")
            }
            guard offset == expectedOffset else {
                throw CheckpointError.tensorOutOfBounds(path: path, tensor: name,
                    reason: "starts at \(offset), expected \(expectedOffset) (blocks are contiguous in table order)")
            }
            let (end, o) = offset.addingReportingOverflow(stored)
            guard !o, end <= fileSize else {
                throw CheckpointError.truncated(path: path, section: "tensor \(name)", needed: o ? .max : end, fileSize: fileSize)
            }
            expectedOffset = end
            entries.append(CheckpointTableEntry(name: name, dtype: dtype, shape: shape, offset: offset, storedBytes: stored,
                                                rawBytes: raw, chunkElements: chunkElements, chunks: chunks))
        }
        guard c.remaining == 0 else { throw bad("\(c.remaining) bytes after the last entry") }
        guard expectedOffset == fileSize else {
            throw CheckpointError.trailingData(path: path, bytes: fileSize - expectedOffset)
        }
        return entries
    }

    /// Total decompressed bytes of all tensors.
    public var rawBytes: UInt64 { entries.reduce(0) { $0 + $1.rawBytes } }
    /// Total compressed bytes of all tensors.
    public var storedBytes: UInt64 { entries.reduce(0) { $0 + $1.storedBytes } }

    /// Reads (decompresses, checks and unshuffles) the tensors, all of them or those named,
    /// using `threads` threads; returns them in table order with their stored dtype.
    public func readTensors(named wanted: Set<String>? = nil, threads: Int = 2) throws
        -> [(name: String, tensor: Tensor, dtype: CheckpointDType)]
    {
        let selected = entries.filter { wanted?.contains($0.name) ?? true }
        let tensors = selected.map { Tensor(uninitialized: $0.shape) }
        try decode(selected, into: tensors, threads: threads)
        return zip(selected, tensors).map { ($0.name, $1, $0.dtype) }
    }

    /// Decompresses every chunk and checks its checksum without keeping the tensors.
    public func verify(threads: Int = 2) throws {
        try decode(entries, into: nil, threads: threads)
    }

    /// One zstd frame to decode: which entry, which chunk, where it is and what it becomes.
    private struct Job {
        let entry: Int, chunk: Int, fileOffset: UInt64, length: Int, firstElement: Int, elements: Int
    }

    private func decode(_ selected: [CheckpointTableEntry], into tensors: [Tensor]?, threads: Int) throws {
        var jobs: [Job] = []
        for (e, entry) in selected.enumerated() {
            var offset = entry.offset
            let n = entry.elementCount, per = Int(entry.chunkElements)
            for (k, chunk) in entry.chunks.enumerated() {
                let first = k * per
                jobs.append(Job(entry: e, chunk: k, fileOffset: offset, length: Int(chunk.length),
                                firstElement: first, elements: min(per, n - first)))
                offset += chunk.length
            }
        }
        let workers = max(1, min(threads, jobs.count))
        let failures = Locked<[(Int, Error)]>([])
        let path = self.path, source = self.source
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            guard let dctx = ZSTD_createDCtx() else {
                failures.withLock { $0.append((w, CheckpointError.io(path: path, operation: "ZSTD_createDCtx", errno: ENOMEM))) }
                return
            }
            defer { ZSTD_freeDCtx(dctx) }
            var compressed: [UInt8] = []
            var scratch: [UInt8] = []
            for j in stride(from: w, to: jobs.count, by: workers) {
                // Stop only past the earliest failure, so the error reported is the same
                // whatever the thread timing: that of the first bad chunk in file order.
                if failures.withLock({ $0.contains { $0.0 < j } }) { return }
                let job = jobs[j]
                let entry = selected[job.entry]
                let rawCount = job.elements * entry.dtype.byteWidth
                do {
                    if compressed.count < job.length { compressed = [UInt8](repeating: 0, count: job.length) }
                    if scratch.count < rawCount { scratch = [UInt8](repeating: 0, count: rawCount) }
                    try compressed.withUnsafeMutableBytes { c in
                        try source.read(into: UnsafeMutableRawBufferPointer(rebasing: c[0..<job.length]), at: job.fileOffset)
                        try scratch.withUnsafeMutableBytes { s in
                            let (declared, problem) = Zstd.frameContentSize(c.baseAddress!, count: job.length)
                            if let problem {
                                throw CheckpointError.corruptTensorData(path: path, tensor: entry.name, chunk: job.chunk, reason: problem)
                            }
                            guard declared == UInt64(rawCount) else {
                                throw CheckpointError.corruptTensorData(path: path, tensor: entry.name, chunk: job.chunk,
                                    reason: "frame declares \(declared!) bytes, table says \(rawCount)")
                            }
                            if let problem = Zstd.decompress(c.baseAddress!, count: job.length, into: s.baseAddress!,
                                                             capacity: rawCount, context: dctx) {
                                throw CheckpointError.corruptTensorData(path: path, tensor: entry.name, chunk: job.chunk, reason: problem)
                            }
                            guard XXH64.hash(s.baseAddress, count: rawCount) == entry.chunks[job.chunk].checksum else {
                                throw CheckpointError.tensorChecksumMismatch(path: path, tensor: entry.name, chunk: job.chunk)
                            }
                            guard let t = tensors?[job.entry] else { return }
                            let src = s.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            switch entry.dtype {
                            case .f32: ByteShuffle.unshuffleFloat32(src, count: job.elements, into: t.data + job.firstElement)
                            case .bf16: ByteShuffle.unshuffleBFloat16(src, count: job.elements, into: t.data + job.firstElement)
                            }
                        }
                    }
                } catch {
                    failures.withLock { $0.append((j, error)) }
                    return
                }
            }
        }
        if let first = failures.withLock({ $0.min { $0.0 < $1.0 } }) { throw first.1 }
    }
}
