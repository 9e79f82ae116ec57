import Testing
@testable import RFT

/// The three ways of choosing the SFT subset, and their errors.
struct CurriculumTests {
    static let inputs = (0..<200).map { TaskExample(prompt: "p\($0)", reference: "r\($0)", length: 1, id: "i\($0)") }
    /// Input i has std (i mod 10) / 10; inputs with std 0 are flagged.
    static let std = (0..<200).map { Double($0 % 10) / 10 }
    static let flagged = std.map { $0 < 0.05 }

    @Test func randomPicksTheFractionUniformly() throws {
        let c = Curriculum(strategy: .random, fraction: 0.05, seed: 1)
        let a = try c.select(Self.inputs)
        #expect(a.count == 10 && Set(a).count == 10 && a == a.sorted())
        #expect(try c.select(Self.inputs) == a)  // seeded
        #expect(try Curriculum(strategy: .random, fraction: 0.05, seed: 2).select(Self.inputs) != a)
        // over many seeds every input is chosen about equally often (10/200 = 5% each)
        var counts = [Int](repeating: 0, count: 200)
        for s in 0..<400 { for i in try Curriculum(fraction: 0.05, seed: UInt64(s)).select(Self.inputs) { counts[i] += 1 } }
        #expect(counts.min()! >= 5 && counts.max()! <= 40, "\(counts.min()!)…\(counts.max()!) of expected 20")
        #expect(try Curriculum(fraction: 0.0001).select(Self.inputs).count == 1)  // at least one
    }

    @Test func lowestStdFirstBreaksTiesAtRandom() throws {
        let chosen = try Curriculum(strategy: .lowestStd, fraction: 0.15, seed: 4).select(Self.inputs, rewardStd: Self.std)
        #expect(chosen.count == 30)
        #expect(chosen.filter { Self.std[$0] == 0 }.count == 20 && chosen.filter { Self.std[$0] == 0.1 }.count == 10)
        let other = try Curriculum(strategy: .lowestStd, fraction: 0.05, seed: 5).select(Self.inputs, rewardStd: Self.std)
        #expect(other.allSatisfy { Self.std[$0] == 0 })
        #expect(throws: CurriculumError.needsRewardStd(.lowestStd)) { try Curriculum(strategy: .lowestStd).select(Self.inputs) }
        #expect(throws: CurriculumError.misaligned(inputs: 200, measurements: 3)) {
            try Curriculum(strategy: .lowestStd).select(Self.inputs, rewardStd: [0, 0, 0])
        }
    }

    @Test func lowestStdTakesTheStuckBeforeTheSolvedAmongEqualStd() throws {
        // the 20 inputs with std 0: the even tens solved (mean 1), the odd tens stuck (mean 0)
        let mean = (0..<200).map { Self.std[$0] == 0 ? Double(($0 / 10 + 1) % 2) : 0.5 }
        for seed in UInt64(0)..<5 {
            let chosen = try Curriculum(strategy: .lowestStd, fraction: 0.05, seed: seed)
                .select(Self.inputs, rewardStd: Self.std, rewardMean: mean)
            #expect(chosen.count == 10 && chosen.allSatisfy { Self.std[$0] == 0 && mean[$0] == 0 }, "seed \(seed): \(chosen)")
        }
        // 15%: the 10 stuck, the 10 solved, then 10 of std 0.1
        let wider = try Curriculum(strategy: .lowestStd, fraction: 0.15, seed: 1).select(Self.inputs, rewardStd: Self.std, rewardMean: mean)
        #expect(wider.filter { mean[$0] == 0 }.count == 10 && wider.filter { mean[$0] == 1 }.count == 10)
        #expect(throws: CurriculumError.misaligned(inputs: 200, measurements: 2)) {
            try Curriculum(strategy: .lowestStd).select(Self.inputs, rewardStd: Self.std, rewardMean: [0, 1])
        }
    }

    @Test func flaggedOnlyStaysInsideTheFlaggedSet() throws {
        let chosen = try Curriculum(strategy: .flaggedOnly, fraction: 0.5, seed: 1).select(Self.inputs, flagged: Self.flagged)
        #expect(chosen.count == 20 && chosen.allSatisfy { Self.flagged[$0] })  // only 20 are flagged
        #expect(throws: CurriculumError.nothingFlagged) {
            try Curriculum(strategy: .flaggedOnly).select(Self.inputs, flagged: Self.flagged.map { _ in false })
        }
    }

    @Test func chosenInputsNeedReferences() throws {
        var inputs = Self.inputs
        for i in inputs.indices where Self.flagged[i] { inputs[i].reference = nil }
        do {
            _ = try Curriculum(strategy: .flaggedOnly, fraction: 0.05).select(inputs, flagged: Self.flagged)
            Issue.record("no error")
        } catch let CurriculumError.missingReferences(ids, total) {
            #expect(ids.count == 10 && total == 10 && ids.allSatisfy { $0.hasPrefix("i") })
        }
        #expect(throws: CurriculumError.badFraction(0)) { try Curriculum(fraction: 0).select(inputs) }
    }
}
