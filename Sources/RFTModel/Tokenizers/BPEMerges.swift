import RFTTensor

/// The BPE model: byte → initial token, and the merge table `(left, right)` → (priority, merged
/// token). Encoding a piece applies, again and again, the mergeable adjacent pair of lowest
/// priority (leftmost first on ties) — what Hugging Face's BPE (with its priority queue) and
/// tiktoken do. Short pieces scan an array of pair priorities; long ones use a heap, so a
/// megabyte without a split point stays O(n log n).
struct BPEMerges: Sendable {
    /// The token of each single byte, or -1 (such a byte is dropped, as Hugging Face does when a
    /// vocabulary lacks it and has no unknown token).
    let byteToken: [Int32]
    /// `left << 32 | right` → `priority << 32 | merged`.
    let table: [UInt64: UInt64]
    /// Hugging Face's `ignore_merges`: a piece that is itself a token is that token.
    let ignoreMerges: Bool
    /// Token bytes → id, for `ignoreMerges`.
    let wholeTokens: [ArraySlice<UInt8>: Int32]

    static let none = UInt32.max

    @inline(__always) static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    @inline(__always) func lookup(_ a: Int32, _ b: Int32) -> (priority: UInt32, merged: Int32) {
        guard let v = table[BPEMerges.key(a, b)] else { return (BPEMerges.none, -1) }
        return (UInt32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v))
    }

    /// Appends the tokens of one piece.
    func encode(_ piece: ArraySlice<UInt8>, into out: inout [Int32]) {
        if ignoreMerges, let id = wholeTokens[piece] { out.append(id); return }
        var symbols: [Int32] = []
        symbols.reserveCapacity(piece.count)
        for b in piece where byteToken[Int(b)] >= 0 { symbols.append(byteToken[Int(b)]) }
        if symbols.count < 2 { out.append(contentsOf: symbols); return }
        if symbols.count <= 64 { scanMerge(&symbols) } else { heapMerge(&symbols) }
        out.append(contentsOf: symbols)
    }

    /// Merging by repeated scans of the pair priorities (short pieces).
    func scanMerge(_ symbols: inout [Int32]) {
        var n = symbols.count
        var priority = [UInt32](repeating: 0, count: n - 1)
        var merged = [Int32](repeating: 0, count: n - 1)
        for i in 0..<(n - 1) { (priority[i], merged[i]) = lookup(symbols[i], symbols[i + 1]) }
        while n > 1 {
            var best = BPEMerges.none, at = -1
            for i in 0..<(n - 1) where priority[i] < best { best = priority[i]; at = i }
            if at < 0 { break }
            symbols[at] = merged[at]
            symbols.remove(at: at + 1)
            priority.remove(at: at)
            merged.remove(at: at)
            n -= 1
            if at > 0 { (priority[at - 1], merged[at - 1]) = lookup(symbols[at - 1], symbols[at]) }
            if at < n - 1 { (priority[at], merged[at]) = lookup(symbols[at], symbols[at + 1]) }
        }
    }

    /// Merging with a linked list and a binary heap of (priority, position) (long pieces).
    func heapMerge(_ symbols: inout [Int32]) {
        let n = symbols.count
        var next = (0..<n).map { $0 + 1 }, prev = (0..<n).map { $0 - 1 }
        next[n - 1] = -1
        var heap = PairHeap()
        for i in 0..<(n - 1) {
            let (p, m) = lookup(symbols[i], symbols[i + 1])
            if p != BPEMerges.none { heap.push(priority: p, position: Int32(i), left: symbols[i], right: symbols[i + 1], merged: m) }
        }
        while let e = heap.pop() {
            let i = Int(e.position), j = next[i]
            // Stale entries: a neighbour changed since this pair was pushed.
            guard j >= 0, symbols[i] == e.left, symbols[j] == e.right else { continue }
            symbols[i] = e.merged
            let k = next[j]
            next[i] = k
            if k >= 0 { prev[k] = i }
            symbols[j] = -1
            next[j] = -1
            if prev[i] >= 0 {
                let h = prev[i]
                let (p, m) = lookup(symbols[h], symbols[i])
                if p != BPEMerges.none { heap.push(priority: p, position: Int32(h), left: symbols[h], right: symbols[i], merged: m) }
            }
            if k >= 0 {
                let (p, m) = lookup(symbols[i], symbols[k])
                if p != BPEMerges.none { heap.push(priority: p, position: Int32(i), left: symbols[i], right: symbols[k], merged: m) }
            }
        }
        var out: [Int32] = []
        out.reserveCapacity(n)
        var i = 0
        while i >= 0 { out.append(symbols[i]); i = next[i] }
        symbols = out
    }
}

/// A min-heap of candidate merges ordered by (priority, position).
struct PairHeap {
    struct Entry { var priority: UInt32; var position: Int32; var left: Int32; var right: Int32; var merged: Int32 }
    private var items: [Entry] = []

    @inline(__always) private static func less(_ a: Entry, _ b: Entry) -> Bool {
        a.priority != b.priority ? a.priority < b.priority : a.position < b.position
    }

    mutating func push(priority: UInt32, position: Int32, left: Int32, right: Int32, merged: Int32) {
        items.append(Entry(priority: priority, position: position, left: left, right: right, merged: merged))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard PairHeap.less(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count, PairHeap.less(items[l], items[m]) { m = l }
                if r < items.count, PairHeap.less(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
