#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A size-bucketed caching allocator for tensor storage: freed blocks are kept per size class
/// and handed out again, so a steady training step does not call malloc per op.
public final class CachingAllocator: @unchecked Sendable {
    /// The allocator every `Tensor` uses.
    public static let shared = CachingAllocator()

    /// Blocks are 64-byte aligned (one cache line, an AVX-512 register).
    public static let alignment = 64

    private struct Pools {
        var free: [Int: [UnsafeMutableRawPointer]] = [:]
        var cachedBytes = 0
        var liveBytes = 0
        var peakLiveBytes = 0
    }
    private let pools = Locked(Pools())

    /// The size class for `count` floats: exact below 1 Ki floats rounded to 16, else one of
    /// 8 steps per power of two (at most 12.5% waste).
    @inline(__always)
    static func bucket(_ count: Int) -> Int {
        if count <= 1024 { return max(16, (count + 15) & ~15) }
        let top = Int.bitWidth - count.leadingZeroBitCount - 1  // floor(log2(count))
        let step = 1 << (top - 3)
        return (count + step - 1) / step * step
    }

    /// Returns uninitialised storage for at least `count` floats and its capacity in floats.
    public func allocate(count: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let capacity = Self.bucket(count)
        let reused: UnsafeMutableRawPointer? = pools.withLock { p in
            p.liveBytes += capacity * 4
            p.peakLiveBytes = max(p.peakLiveBytes, p.liveBytes)
            guard var list = p.free[capacity], let block = list.popLast() else { return nil }
            p.free[capacity] = list
            p.cachedBytes -= capacity * 4
            return block
        }
        let raw = reused ?? Self.fresh(bytes: capacity * 4)
        return (raw.bindMemory(to: Float.self, capacity: capacity), capacity)
    }

    /// Blocks of at least this many bytes are aligned to 2 MiB and advised as transparent huge
    /// pages: a KV cache or an activation of several MiB is then covered by a few TLB entries
    /// instead of hundreds (decoding reads every cached row each step).
    static let hugePageThreshold = 2 << 20

    /// Fresh memory for `bytes`, huge-page advised from `hugePageThreshold` up.
    static func fresh(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes >= hugePageThreshold {
            var p: UnsafeMutableRawPointer?
            if posix_memalign(&p, hugePageThreshold, bytes) == 0, let p {
                #if os(Linux)
                _ = madvise(p, bytes, 14)  // MADV_HUGEPAGE (a hint; ignored where THP is off)
                #endif
                return p
            }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: alignment)
    }

    /// Gives a block back to the cache.
    public func deallocate(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        pools.withLock { p in
            p.free[capacity, default: []].append(UnsafeMutableRawPointer(pointer))
            p.cachedBytes += capacity * 4
            p.liveBytes -= capacity * 4
        }
    }

    /// Frees every cached (unused) block back to the system.
    public func emptyCache() {
        let blocks: [UnsafeMutableRawPointer] = pools.withLock { p in
            let all = p.free.values.flatMap { $0 }
            p.free = [:]
            p.cachedBytes = 0
            return all
        }
        for b in blocks { b.deallocate() }
    }

    /// Bytes held by live tensors, bytes cached for reuse, and the peak of live bytes.
    public var statistics: (liveBytes: Int, cachedBytes: Int, peakLiveBytes: Int) {
        pools.withLock { ($0.liveBytes, $0.cachedBytes, $0.peakLiveBytes) }
    }
}

/// Reference-counted float storage from the caching allocator; several tensors (views) may share one.
public final class Storage: @unchecked Sendable {
    /// First float of the block.
    public let pointer: UnsafeMutablePointer<Float>
    /// Floats the block holds (its size class).
    public let capacity: Int

    /// Allocates uninitialised storage for `count` floats.
    public init(count: Int) {
        (pointer, capacity) = CachingAllocator.shared.allocate(count: count)
    }

    deinit { CachingAllocator.shared.deallocate(pointer, capacity: capacity) }
}
