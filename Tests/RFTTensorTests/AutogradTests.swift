import Testing
@testable import RFTTensor

@Suite struct AutogradTests {
    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let x = param([2, 3], seed: 200), w = param([4, 3], seed: 201)
        func loss() -> Tensor { gelu(linear(x, weight: w)).sum() }
        loss().backward()
        let gx1 = x.grad!.toArray(), gw1 = w.grad!.toArray()
        #expect(gx1.contains { $0 != 0 })
        loss().backward()
        let gx2 = x.grad!.toArray(), gw2 = w.grad!.toArray()
        #expect(maxAbsDiff(gx2, gx1.map { 2 * $0 }) < 1e-6)
        #expect(maxAbsDiff(gw2, gw1.map { 2 * $0 }) < 1e-6)
    }

    /// A second backward() through a released graph stops with an error instead of silently
    /// adding nothing (the loss itself, and an intermediate the first walk passed through).
    @Test func secondBackwardThroughAReleasedGraphStops() async {
        await #expect(processExitsWith: .failure) {
            let x = Tensor(repeating: 1, shape: [3])
            x.requiresGrad = true
            let loss = gelu(x).sum()
            loss.backward()
            loss.backward()
        }
        await #expect(processExitsWith: .failure) {
            let x = Tensor(repeating: 1, shape: [3])
            x.requiresGrad = true
            let hidden = gelu(x)
            hidden.sum().backward()
            hidden.sum().backward()
        }
    }

    @Test func tensorUsedTwiceGetsSumOfBothPaths() {
        // y = x·3 + gelu(x) → dy/dx = 3 + gelu'(x); and z = x·x → 2x.
        let x = param([5], seed: 202)
        ((x * 3) + gelu(x)).backward(gradient: Tensor(repeating: 1, shape: [5]))
        let g = x.grad!.toArray()
        x.grad = nil
        gelu(x).backward(gradient: Tensor(repeating: 1, shape: [5]))
        let gGelu = x.grad!.toArray()
        for i in 0..<5 { #expect(abs(g[i] - (3 + gGelu[i])) < 1e-6) }

        x.grad = nil
        (x * x).sum().backward()
        for i in 0..<5 { #expect(abs(x.grad!.data[i] - 2 * x.data[i]) < 1e-6) }
    }

    @Test func diamondGraphThroughIntermediate() {
        // h = 2x (intermediate, used by two branches); L = Σ h² + Σ h = Σ 4x² + 2x → dL/dx = 8x + 2
        let x = param([7], seed: 203)
        let h = x * 2
        ((h * h).sum() + h.sum()).backward()
        for i in 0..<7 { #expect(abs(x.grad!.data[i] - (8 * x.data[i] + 2)) < 1e-5) }
        #expect(h.grad == nil)  // intermediate gradients are released
    }

    @Test func withoutGradientsRecordsNothingAndRestoresMode() {
        let x = param([3, 4], seed: 204), w = param([2, 4], seed: 205)
        #expect(GradMode.isEnabled)
        let y: Tensor = withoutGradients {
            #expect(!GradMode.isEnabled)
            let nested = withoutGradients { GradMode.isEnabled }
            #expect(!nested)
            #expect(!GradMode.isEnabled)
            return softmax(linear(x, weight: w) * 2).sum()
        }
        #expect(!y.requiresGrad)
        #expect(y.node == nil)
        #expect(GradMode.isEnabled)
        // and recording works again afterwards
        let z = linear(x, weight: w).sum()
        #expect(z.requiresGrad && z.node != nil)
    }

    @Test func withoutGradientsRestoresModeAfterThrow() {
        struct Boom: Error {}
        #expect(throws: Boom.self) { try withoutGradients { throw Boom() } }
        #expect(GradMode.isEnabled)
    }

    @Test func noRecordingWhenNoInputRequiresGrad() {
        let x = randn([3, 4], seed: 206)
        let y = gelu(x * 2 + 1)
        #expect(!y.requiresGrad && y.node == nil)
    }

    @Test func backwardOnNonScalarWithExplicitGradient() {
        let x = param([2, 3], seed: 207)
        let y = x * x  // (2,3)
        let g = randn([2, 3], seed: 208)
        y.backward(gradient: g)
        for i in 0..<6 { #expect(abs(x.grad!.data[i] - 2 * x.data[i] * g.data[i]) < 1e-6) }
    }

    @Test func backwardOnScalarDefaultsToOne() {
        let x = param([4], seed: 209)
        (x * 5).sum().backward()
        #expect(x.grad!.toArray() == [5, 5, 5, 5])
    }

    @Test func detachedCutsTheGraph() {
        let x = param([3], seed: 210)
        let d = (x * 2).detached()
        #expect(!d.requiresGrad)
        let y = (x * d).sum()
        y.backward()
        // only the direct path: d is a constant (= 2x) → dy/dx = d
        for i in 0..<3 { #expect(abs(x.grad!.data[i] - d.data[i]) < 1e-6) }
    }

    @Test func leafWithoutPathGetsNoGradient() {
        let x = param([3], seed: 211), unused = param([3], seed: 212)
        (x * 2).sum().backward()
        #expect(unused.grad == nil)
        #expect(x.grad != nil)
    }

    /// A forward pass recorded with gradients on but never back-propagated (e.g. an evaluation
    /// that forgot `withoutGradients`) must not leak its tensors.  softmax / logSoftmax capture
    /// their own output `y` in the backward closure stored on `y.node`: a retain cycle.
    @Test(arguments: [false, true])
    func recordedOutputIsFreedWithoutBackward(logarithmic: Bool) {
        let x = param([2, 8], seed: 213)
        weak var weakOut: Tensor?
        do {
            let y = logarithmic ? logSoftmax(x) : softmax(x)
            weakOut = y
            #expect(weakOut != nil)
        }
        #expect(weakOut == nil, "output of \(logarithmic ? "logSoftmax" : "softmax") leaked (retain cycle through its node)")
    }

    @Test func recordedOutputIsFreedWithoutBackwardOtherOps() {
        let x = param([2, 3, 8], seed: 214), w = param([8], seed: 215), b = param([8], seed: 216)
        weak var weakOut: Tensor?
        do {
            let y = gelu(layerNorm(linear(x, weight: param([8, 8], seed: 217)), weight: w, bias: b))
            let z = causalSelfAttention(concatenate([y, y, y], axis: 2), heads: 2)
            weakOut = z
            #expect(weakOut != nil)
        }
        #expect(weakOut == nil)
    }
}
