import Testing
@testable import RFTTensor

@Suite struct AllocatorTests {
    @Test func bucketSizes() {
        var counts = Array(1...5000)
        var p = 1
        while p < 1 << 28 { counts += [p - 1, p, p + 1, p + p / 3]; p <<= 1 }
        for n in counts where n > 0 {
            let b = CachingAllocator.bucket(n)
            #expect(b >= n, "bucket(\(n)) = \(b)")
            #expect(b % 16 == 0, "bucket(\(n)) = \(b) is not a multiple of 16 floats (64 bytes)")
            if n > 1024 {
                #expect(Double(b - n) <= 0.125 * Double(n), "bucket(\(n)) = \(b) wastes > 12.5 %")
            } else {
                #expect(b - n < 16 || (n < 16 && b == 16), "bucket(\(n)) = \(b)")
            }
        }
        #expect(CachingAllocator.bucket(0) == 16)
        #expect(CachingAllocator.bucket(1024) == 1024)
        #expect(CachingAllocator.bucket(1025) == 1152)
    }

    @Test func atMostEightBucketsPerPowerOfTwo() {
        for k in 11...20 {
            let lo = 1 << k, hi = 1 << (k + 1)
            let buckets = Set(stride(from: lo + 1, through: hi, by: 1).map(CachingAllocator.bucket))
            #expect(buckets.count == 8, "\(buckets.count) buckets in (2^\(k), 2^\(k + 1)]")
        }
    }

    @Test func bucketIsMonotone() {
        var prev = 0
        for n in 1...70_000 {
            let b = CachingAllocator.bucket(n)
            #expect(b >= prev)
            prev = b
        }
    }

    @Test func freedBlockIsReused() {
        let alloc = CachingAllocator()
        let (p1, c1) = alloc.allocate(count: 3000)
        #expect(c1 == CachingAllocator.bucket(3000))
        alloc.deallocate(p1, capacity: c1)
        #expect(alloc.statistics.cachedBytes == c1 * 4)
        #expect(alloc.statistics.liveBytes == 0)
        // same size class (3001 rounds to the same bucket) → same block
        let (p2, c2) = alloc.allocate(count: 3001)
        #expect(p2 == p1 && c2 == c1)
        #expect(alloc.statistics.cachedBytes == 0)
        #expect(alloc.statistics.liveBytes == c1 * 4)
        // a different class does not get it
        let (p3, c3) = alloc.allocate(count: 100)
        #expect(p3 != p1 && c3 == 112)
        alloc.deallocate(p2, capacity: c2)
        alloc.deallocate(p3, capacity: c3)
        #expect(alloc.statistics.peakLiveBytes == (c1 + c3) * 4)
        alloc.emptyCache()
        #expect(alloc.statistics.cachedBytes == 0)
    }

    @Test func sharedAllocatorReusesTensorStorage() {
        // A size class unlikely to be used concurrently by other tests.
        let n = 777_777
        var first: UnsafeMutablePointer<Float>?
        do {
            let t = Tensor(zeros: [n])
            first = t.storage.pointer
        }
        let t2 = Tensor(uninitialized: [n])
        #expect(t2.storage.pointer == first)
        #expect(t2.storage.capacity == CachingAllocator.bucket(n))
    }

    @Test func tensorsAre64ByteAligned() {
        var keep: [Tensor] = []
        for n in [1, 3, 16, 17, 100, 1000, 1025, 4097, 100_000] {
            let t = Tensor(uninitialized: [n])
            keep.append(t)
            #expect(Int(bitPattern: t.data) % CachingAllocator.alignment == 0, "count \(n)")
        }
        #expect(CachingAllocator.alignment == 64)
        let alloc = CachingAllocator()
        for n in [1, 5, 33, 2049] {
            let (p, c) = alloc.allocate(count: n)
            #expect(Int(bitPattern: p) % 64 == 0)
            alloc.deallocate(p, capacity: c)
        }
        alloc.emptyCache()
    }

    @Test func reshapedViewSharesStorage() {
        let t = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let v = t.reshaped([3, 2])
        #expect(v.storage === t.storage)
        let c = t.copy()
        #expect(c.storage !== t.storage && c.toArray() == t.toArray())
    }
}
