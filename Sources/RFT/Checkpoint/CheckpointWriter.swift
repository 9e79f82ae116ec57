import CZstd
import Dispatch
import Foundation
import RFTTensor

/// How a checkpoint is written.
public struct CheckpointWriteOptions: Sendable {
    /// zstd level (1 is fast and already gets most of the gain on shuffled floats).
    public var compressionLevel: Int32 = 1
    /// Elements per zstd frame; frames are compressed in parallel and independently.
    public var chunkElements = CheckpointFormat.defaultChunkElements
    /// Threads compressing frames (the bytes written do not depend on it).
    public var threads = 2
    /// fsync the file and its folder (turn off only for throwaway files).
    public var durable = true

    /// The default options.
    public init() {}
}

/// Writes checkpoint files atomically: a temp file in the same folder, fsync'd, renamed over
/// the target, then the folder fsync'd. On any error the temp file is removed and an existing
/// file at the target is untouched.
enum CheckpointWriter {
    /// One frame to compress.
    private struct Job { let tensor: Int, chunk: Int, first: Int, elements: Int }

    static func write(header: CheckpointHeader, tensors: [(name: String, tensor: Tensor, dtype: CheckpointDType)],
                      to path: String, options: CheckpointWriteOptions) throws {
        func invalid(_ reason: String) -> CheckpointError { .invalidValue(path: path, reason: reason) }
        // Validate everything before touching the disk.
        var names = Set<String>()
        for t in tensors {
            let n = t.name.utf8.count
            guard n > 0, n <= CheckpointLimits.default.maxNameBytes else { throw invalid("tensor name of \(n) bytes: \(t.name.prefix(40))") }
            guard names.insert(t.name).inserted else { throw invalid("tensor \(t.name) appears twice") }
            guard t.tensor.rank <= CheckpointLimits.default.maxRank else { throw invalid("tensor \(t.name) has rank \(t.tensor.rank)") }
        }
        guard tensors.count <= CheckpointLimits.default.maxTensorCount else { throw invalid("\(tensors.count) tensors") }
        guard options.chunkElements > 0, options.chunkElements * 4 <= CheckpointLimits.default.maxChunkBytes else {
            throw invalid("chunkElements \(options.chunkElements)")
        }
        if let problem = header.validationError() { throw invalid("header: \(problem)") }
        let headerBytes: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            headerBytes = Array(try encoder.encode(header))
        } catch {
            throw invalid("header does not encode as JSON: \(error)")
        }

        let per = options.chunkElements
        var entries = tensors.map { t in
            CheckpointTableEntry(name: t.name, dtype: t.dtype, shape: t.tensor.shape, offset: 0, storedBytes: 0,
                                 rawBytes: UInt64(t.tensor.count * t.dtype.byteWidth), chunkElements: UInt64(per),
                                 chunks: Array(repeating: (0, 0), count: t.tensor.count == 0 ? 0 : (t.tensor.count - 1) / per + 1))
        }
        let tableLength = 4 + entries.reduce(0) { $0 + $1.encodedSize }
        let payloadStart = CheckpointFormat.preambleSize + headerBytes.count + tableLength
        var jobs: [Job] = []
        for (i, e) in entries.enumerated() {
            for k in e.chunks.indices { jobs.append(Job(tensor: i, chunk: k, first: k * per, elements: min(per, tensors[i].tensor.count - k * per))) }
        }

        let file = try TempFile(target: path, startWriteback: options.durable)
        do {
            // Workers take frames in order from a shared counter, compress them into their own
            // buffers, and whoever completes the next frame in file order writes every frame
            // that is ready, so compression and writing overlap and the bytes stay in order.
            struct Shared {
                var nextJob = 0, nextToWrite = 0, offset: UInt64 = 0
                var ready: [Int: (bytes: [UInt8], count: Int, checksum: UInt64)] = [:]
                var pool: [[UInt8]] = []  // output buffers to reuse (no page faults per frame)
                var error: Error?
            }
            let shared = Locked(Shared(offset: UInt64(payloadStart)))
            let sizes = Locked([(length: UInt64, checksum: UInt64)](repeating: (0, 0), count: jobs.count))
            let workers = max(1, min(options.threads, jobs.count))
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                guard let cctx = Zstd.makeCompressionContext(level: options.compressionLevel) else {
                    shared.withLock { $0.error = $0.error ?? CheckpointError.io(path: path, operation: "ZSTD_createCCtx", errno: ENOMEM) }
                    return
                }
                defer { ZSTD_freeCCtx(cctx) }
                var scratch: [UInt8] = []
                while true {
                    let j: Int? = shared.withLock { s in
                        guard s.error == nil, s.nextJob < jobs.count else { return nil }
                        defer { s.nextJob += 1 }
                        return s.nextJob
                    }
                    guard let j else { return }
                    let job = jobs[j]
                    let t = tensors[job.tensor]
                    let rawCount = job.elements * t.dtype.byteWidth
                    if scratch.count < rawCount { scratch = [UInt8](repeating: 0, count: rawCount) }
                    var buffer = shared.withLock { $0.pool.popLast() } ?? []
                    let out: (count: Int, checksum: UInt64)? = scratch.withUnsafeMutableBytes { s in
                        let dst = s.baseAddress!.assumingMemoryBound(to: UInt8.self)
                        switch t.dtype {
                        case .f32: ByteShuffle.shuffleFloat32(t.tensor.data + job.first, count: job.elements, into: dst)
                        case .bf16: ByteShuffle.shuffleBFloat16(t.tensor.data + job.first, count: job.elements, into: dst)
                        }
                        let checksum = XXH64.hash(s.baseAddress, count: rawCount)
                        guard let n = Zstd.compress(s.baseAddress!, count: rawCount, into: &buffer, context: cctx) else { return nil }
                        return (n, checksum)
                    }
                    shared.withLock { s in
                        guard s.error == nil else { return }
                        guard let out else {
                            s.error = CheckpointError.io(path: path, operation: "zstd compression of \(t.name)", errno: ENOMEM)
                            return
                        }
                        s.ready[j] = (buffer, out.count, out.checksum)
                        // Write every frame that is next in file order (holding the lock keeps order).
                        while let r = s.ready.removeValue(forKey: s.nextToWrite) {
                            do {
                                try r.bytes.withUnsafeBytes { try file.write(UnsafeRawBufferPointer(rebasing: $0[0..<r.count]), at: s.offset) }
                            } catch {
                                s.error = error
                                return
                            }
                            let index = s.nextToWrite
                            sizes.withLock { $0[index] = (UInt64(r.count), r.checksum) }
                            s.offset += UInt64(r.count)
                            s.pool.append(r.bytes)
                            s.nextToWrite += 1
                        }
                    }
                }
            }
            if let error = shared.withLock({ $0.error }) { throw error }
            let frames = sizes.withLock { $0 }
            for (j, job) in jobs.enumerated() {
                entries[job.tensor].chunks[job.chunk] = frames[j]
                entries[job.tensor].storedBytes += frames[j].length
            }
            var running = UInt64(payloadStart)  // blocks are contiguous in table order (empty tensors included)
            for i in entries.indices { entries[i].offset = running; running += entries[i].storedBytes }

            // Preamble, header and table, now that offsets are known.
            var block: [UInt8] = []
            block.reserveCapacity(payloadStart)
            block += CheckpointFormat.magic
            block.appendLE(CheckpointFormat.version)
            block.appendLE(UInt32(0))
            block.appendLE(UInt64(headerBytes.count))
            block.appendLE(UInt64(tableLength))
            block.appendLE(UInt64(0))
            block += headerBytes
            block.appendLE(UInt32(entries.count))
            for e in entries { e.encode(into: &block) }
            let checksum = CheckpointReader.checksum(block)
            withUnsafeBytes(of: checksum.littleEndian) { for i in 0..<8 { block[32 + i] = $0[i] } }
            try block.withUnsafeBytes { try file.write($0, at: 0) }
            try file.commit(durable: options.durable)
        } catch {
            file.discard()
            throw error
        }
    }
}

/// A temp file next to its target that becomes the target on `commit` and disappears on `discard`.
final class TempFile {
    let target: String
    let temp: String
    private var fd: Int32
    /// When set, writeback of every 32 MiB written starts at once (so the final fsync has
    /// little left to flush and disk writes overlap compression).
    private let startWriteback: Bool
    private var flushedUpTo: Int64 = 0

    /// Creates `.<name>.tmp-<pid>-<random>` in the target's folder.
    init(target: String, startWriteback: Bool = false) throws {
        self.target = target
        self.startWriteback = startWriteback
        let url = URL(fileURLWithPath: target)
        let dir = url.deletingLastPathComponent().path
        temp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError.io(path: target, operation: "create temp file \(temp)", errno: errno) }
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.io(path: target, operation: "write \(temp)", errno: errno)
            }
            done += n
        }
        let end = Int64(offset) + Int64(bytes.count)
        if startWriteback {
            if flushedUpTo == 0 { flushedUpTo = Int64(offset) }
            if end - flushedUpTo >= 32 << 20 {
                // Linux starts (asynchronous) writeback of the range on DONTNEED; a hint only.
                _ = posix_fadvise(fd, off_t(flushedUpTo), off_t(end - flushedUpTo), POSIX_FADV_DONTNEED)
                flushedUpTo = end
            }
        }
    }

    /// fsync, close, rename over the target, fsync the folder.
    func commit(durable: Bool) throws {
        if durable, fsync(fd) != 0 { throw CheckpointError.io(path: target, operation: "fsync \(temp)", errno: errno) }
        let closed = close(fd)
        fd = -1
        if closed != 0 { throw CheckpointError.io(path: target, operation: "close \(temp)", errno: errno) }
        KillPoints.reach("file written, not yet renamed")
        if rename(temp, target) != 0 { throw CheckpointError.io(path: target, operation: "rename \(temp)", errno: errno) }
        KillPoints.reach("file renamed")
        if durable {
            let dir = URL(fileURLWithPath: target).deletingLastPathComponent().path
            let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dfd >= 0 {
                defer { close(dfd) }
                if fsync(dfd) != 0 { throw CheckpointError.io(path: target, operation: "fsync folder \(dir)", errno: errno) }
            }
        }
    }

    /// Closes and removes the temp file (after a failure).
    func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temp)
    }

    deinit { if fd >= 0 { close(fd); unlink(temp) } }
}
