import Foundation
import Testing
@testable import RFTTensor

/// torch.optim.AdamW for one scalar, in Double.
struct AdamWReference {
    var p: Double, m = 0.0, v = 0.0, t = 0
    let lr: Double, b1: Double, b2: Double, eps: Double, wd: Double
    mutating func step(_ g: Double) {
        t += 1
        p *= 1 - lr * wd
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        let bc1 = 1 - pow(b1, Double(t)), bc2 = 1 - pow(b2, Double(t))
        p -= (lr / bc1) * m / (v.squareRoot() / bc2.squareRoot() + eps)
    }
}

@Suite struct OptimizerTests {
    /// 200 000 elements → two parallel chunks of 100 000; 37 → two 16-lane blocks + a 5 tail.
    @Test(arguments: [200_000, 37])
    func adamWMatchesTorchFormula(count: Int) {
        let (lr, b1, b2, eps, wd): (Float, Float, Float, Float, Float) = (0.01, 0.8, 0.95, 1e-6, 0.1)
        let p = randn([count], seed: 300)
        let q = randn([3], seed: 301)  // a second parameter, never given a gradient
        let qBefore = q.toArray()
        let opt = AdamW(parameters: [("p", p), ("q", q)], learningRate: lr, betas: (b1, b2), eps: eps, weightDecay: wd)
        var refs = (0..<count).map {
            AdamWReference(p: Double(p.data[$0]), lr: Double(lr), b1: Double(b1), b2: Double(b2),
                           eps: Double(eps), wd: Double(wd))
        }
        for s in 0..<5 {
            // varying gradients, including some exactly zero and some large
            var gen = RandomGenerator(seed: 400 + UInt64(s))
            let g = Tensor(uninitialized: [count])
            for i in 0..<count {
                g.data[i] = i % 11 == 0 ? 0 : gen.nextNormal() * (i % 7 == 0 ? 50 : 1)
            }
            p.grad = g
            opt.step()
            for i in 0..<count { refs[i].step(Double(g.data[i])) }
        }
        #expect(opt.stepCount == 5)
        var maxErr = 0.0, maxMErr = 0.0, maxVErr = 0.0
        for i in 0..<count {
            maxErr = max(maxErr, nanToInf(abs(Double(p.data[i]) - refs[i].p) / max(1, abs(refs[i].p))))
            maxMErr = max(maxMErr, nanToInf(abs(Double(opt.exponentialAverage[0].data[i]) - refs[i].m) / max(1, abs(refs[i].m))))
            maxVErr = max(maxVErr, nanToInf(abs(Double(opt.exponentialAverageSquared[0].data[i]) - refs[i].v) / max(1, abs(refs[i].v))))
        }
        // Each step moves p by up to lr = 1e-2; Float32 rounding gives ~1e-7 relative error, so
        // 1e-5 fails on any formula difference (e.g. missing bias correction ≈ 1e-3).
        #expect(maxErr < 1e-5)
        #expect(maxMErr < 1e-5)
        #expect(maxVErr < 1e-5)
        #expect(q.toArray() == qBefore)  // no gradient → untouched
    }

    /// The AVX-512 AdamW step gives the Swift loop's bits (parameters and both moments), over three
    /// steps, for a length with a masked tail and one split across threads.
    @Test(.enabled(if: NativeKernels.hasAVX512, "the CPU has no AVX-512"), arguments: [200_000, 37])
    func adamWWideGivesThePortableBits(count: Int) {
        let (wide, portable) = (randn([count], seed: 302), randn([count], seed: 302))
        let optimizers = [wide, portable].map {
            AdamW(parameters: [("p", $0)], learningRate: 0.01, betas: (0.8, 0.95), eps: 1e-6, weightDecay: 0.1)
        }
        for s in 0..<3 {
            let g = randn([count], seed: 500 + UInt64(s))
            wide.grad = g
            portable.grad = g
            optimizers[0].step()
            NativeKernels.withPortableKernels { optimizers[1].step() }
        }
        let states = optimizers.map { [$0.parameters[0].tensor, $0.exponentialAverage[0], $0.exponentialAverageSquared[0]] }
        for (a, b) in zip(states[0], states[1]) {
            #expect(zip(a.toArray(), b.toArray()).filter { $0.bitPattern != $1.bitPattern }.isEmpty)
        }
    }

    @Test func sgdMomentumMatchesReference() {
        let (lr, mu, wd): (Float, Float, Float) = (0.1, 0.9, 0.01)
        let p = randn([23], seed: 310)
        let opt = SGD(parameters: [("w", p)], learningRate: lr, momentum: mu, weightDecay: wd)
        var refP = p.toArray().map(Double.init), refB = [Double](repeating: 0, count: 23)
        for s in 0..<4 {
            let g = randn([23], seed: 311 + UInt64(s))
            p.grad = g
            opt.step()
            for i in 0..<23 {
                let d = Double(g.data[i]) + Double(wd) * refP[i]
                refB[i] = s == 0 ? d : Double(mu) * refB[i] + d
                refP[i] -= Double(lr) * refB[i]
            }
        }
        #expect(maxAbsDiff(p.toArray(), refP) < 1e-5)
        #expect(maxAbsDiff(opt.momentumBuffers[0].toArray(), refB) < 1e-5)
    }

    @Test func sgdWithoutMomentum() {
        let p = Tensor(shape: [3], data: [1, 2, 3])
        let opt = SGD(parameters: [("w", p)], learningRate: 0.5)
        p.grad = Tensor(shape: [3], data: [2, -2, 0])
        opt.step()
        #expect(p.toArray() == [0, 3, 3])
        #expect(opt.stateTensors().isEmpty)
    }

    @Test func zeroGradClearsGradients() {
        let p = param([3], seed: 320)
        p.grad = Tensor(repeating: 1, shape: [3])
        let opt = SGD(parameters: [("w", p)], learningRate: 1)
        opt.zeroGrad()
        #expect(p.grad == nil)
    }

    @Test func clipGradNormScalesToMaxNorm() {
        let a = param([3], seed: 330), b = param([5000], seed: 331), c = param([2], seed: 332)
        a.grad = Tensor(shape: [3], data: [3, 0, 4])  // norm 5
        b.grad = Tensor(repeating: 0.1, shape: [5000])  // norm √50
        // c has no gradient: skipped
        let expected = (25.0 + 50).squareRoot()
        let norm = clipGradNorm([a, b, c], maxNorm: 2)
        #expect(abs(Double(norm) - expected) < 1e-4)
        let after = (a.grad!.toArray() + b.grad!.toArray()).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(after - 2) < 1e-4)
        #expect(abs(Double(a.grad!.data[2]) - 4 * 2 / expected) < 1e-5)  // direction kept
        #expect(c.grad == nil)
    }

    @Test func clipGradNormLeavesSmallGradientsAlone() {
        let a = param([2], seed: 333)
        a.grad = Tensor(shape: [2], data: [0.3, 0.4])
        let norm = clipGradNorm([a], maxNorm: 1)
        #expect(abs(norm - 0.5) < 1e-6)
        #expect(a.grad!.toArray() == [0.3, 0.4])
    }

    @Test func lrScheduleValues() {
        let base: Float = 0.1
        #expect(LRSchedule.constant.learningRate(base: base, step: 0) == base)
        #expect(LRSchedule.constant.learningRate(base: base, step: 12345) == base)

        // transformers' warm-up: factor k / w, so the first step of a warm-up has rate 0
        let warm = LRSchedule(.constantWithWarmup, warmupSteps: 10, totalSteps: 100)
        #expect(warm.learningRate(base: base, step: 0) == 0)
        #expect(abs(warm.learningRate(base: base, step: 5) - 0.05) < 1e-7)
        #expect(warm.learningRate(base: base, step: 10) == base)
        #expect(warm.learningRate(base: base, step: 1000) == base)

        let linear = LRSchedule(.linear, warmupSteps: 10, totalSteps: 110)
        #expect(abs(linear.learningRate(base: base, step: 60) - 0.05) < 1e-7)  // halfway through the decay
        #expect(linear.learningRate(base: base, step: 110) == 0)
        #expect(linear.learningRate(base: base, step: 500) == 0)

        let plain = LRSchedule(.cosine, warmupSteps: 0, totalSteps: 100)
        #expect(plain.learningRate(base: base, step: 0) == base)  // no warm-up: the base rate at once
        #expect(abs(plain.learningRate(base: base, step: 50) - 0.05) < 1e-7)
        #expect(abs(plain.learningRate(base: base, step: 100)) < 1e-7)

        let cos = LRSchedule(.cosineWithMinLR, warmupSteps: 10, totalSteps: 110, minRatio: 0.1)
        #expect(abs(cos.learningRate(base: base, step: 4) - 0.04) < 1e-7)
        #expect(abs(cos.learningRate(base: base, step: 10) - base) < 1e-7)  // start of decay
        #expect(abs(cos.learningRate(base: base, step: 60) - 0.055) < 1e-6)  // middle: (0.1+1)/2·base
        let quarter = Double(base) * (0.1 + 0.9 * 0.5 * (1 + Foundation.cos(Double.pi * 0.25)))
        #expect(abs(Double(cos.learningRate(base: base, step: 35)) - quarter) < 1e-6)
        #expect(abs(cos.learningRate(base: base, step: 110) - 0.01) < 1e-7)  // end: minRatio·base
        #expect(abs(cos.learningRate(base: base, step: 500) - 0.01) < 1e-7)  // stays there
        // monotone non-increasing after warm-up
        var prev = Float.infinity
        for s in 10...110 {
            let v = cos.learningRate(base: base, step: s)
            #expect(v <= prev)
            prev = v
        }
    }

    @Test func lrScheduleIsCodable() throws {
        let s = LRSchedule(.cosineWithMinLR, warmupSteps: 3, totalSteps: 9, minRatio: 0.25)
        let back = try JSONDecoder().decode(LRSchedule.self, from: JSONEncoder().encode(s))
        #expect(back == s)
    }

    @Test func stateTensorNames() {
        let a = param([2, 3], seed: 340), b = param([4], seed: 341)
        let adam = AdamW(parameters: [("h.0.w", a), ("h.0.b", b)])
        let names = adam.stateTensors().map(\.name)
        #expect(names == ["h.0.w.exp_avg", "h.0.w.exp_avg_sq", "h.0.b.exp_avg", "h.0.b.exp_avg_sq"])
        #expect(adam.stateTensors().map(\.tensor.shape) == [[2, 3], [2, 3], [4], [4]])
        #expect(adam.stateTensors()[0].tensor === adam.exponentialAverage[0])
        #expect(adam.stateTensors()[3].tensor === adam.exponentialAverageSquared[1])

        let sgd = SGD(parameters: [("w", a), ("b", b)], learningRate: 0.1, momentum: 0.9)
        #expect(sgd.stateTensors().map(\.name) == ["w.momentum_buffer", "b.momentum_buffer"])
    }

    @Test func parallelForCoversRangeExactlyOnce() {
        for n in [0, 1, 37, 65_536, 131_072, 200_001] {
            let hits = UnsafeMutablePointer<Int32>.allocate(capacity: max(n, 1))
            hits.initialize(repeating: 0, count: max(n, 1))
            defer { hits.deallocate() }
            parallelFor(n, grain: 1 << 16, threads: 2) { r in for i in r { hits[i] += 1 } }
            #expect((0..<n).allSatisfy { hits[$0] == 1 }, "n = \(n)")
        }
    }
}
