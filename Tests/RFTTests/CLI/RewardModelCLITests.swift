import Foundation
import Testing
@testable import RFT
import RFTTensor

/// `rft reward-train` through the real binary, and its result as `--reward-model` in
/// `rft diagnose` and `rft train`; errors are one line naming the flag or the file.
@Suite struct RewardModelCLITests {
    /// `n` preference pairs on addition prompts ("12+7"): the sum alone chosen over a rambling
    /// answer (the sum, a wrong one and the sum again) — a preference a few steps can learn.
    static func writePairs(_ path: String, count n: Int, seed: UInt64 = 1) {
        var g = RandomGenerator(seed: seed)
        let lines = (0..<n).map { _ -> String in
            let a = Int(g.next() % 100), b = Int(g.next() % 100), wrong = a + b + 1 + Int(g.next() % 9)
            return #"{"prompt": "\#(a)+\#(b)", "chosen": "\#(a + b)", "rejected": "\#(a + b)\#(wrong)\#(a + b)"}"#
        }
        FileManager.default.createFile(atPath: path, contents: Data(lines.joined(separator: "\n").utf8))
    }

    /// A small `rft reward-train` on 64 pairs (16 held out), evaluated every 4 steps.
    static func rewardTrain(data: String, output: String, steps: Int = 12) -> [String] {
        ["reward-train", "--model", "checkpoints/addition-base.rftckpt", "--data", data, "--max-steps", "\(steps)",
         "--per-device-train-batch-size", "8", "--learning-rate", "1e-3", "--eval-fraction", "0.25", "--eval-steps", "4",
         "--save-steps", "3", "--save-total-limit", "1000", "--threads", "1", "--output", output]
    }

    @Test func rewardTrainThenUseTheModelAsAReward() throws {
        RFTBinary.expectBuilt()
        let dir = makeTemporaryDirectory("reward-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/pairs.jsonl"
        Self.writePairs(data, count: 64)
        let trained = try RFTBinary.run(Self.rewardTrain(data: data, output: dir + "/rm", steps: 40))
        #expect(trained.succeeded && trained.stdout.contains("48 pairs to train on, 16 held out") && trained.stdout.contains("eval_accuracy"), "\(trained)")
        let lines = try String(contentsOfFile: dir + "/rm/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(lines.filter { $0["phase"] as? String == "reward_model" && $0["accuracy"] != nil && $0["margin"] != nil }.count == 40)
        let evals = lines.compactMap { $0["eval_accuracy"] as? Double }
        #expect(evals.count == 10 && evals.last! > 0.6, "held-out accuracy every 4 steps: \(evals)")
        print("rft reward-train: held-out accuracy every 4 steps \(evals)")
        let checkpoint = try #require(trained.stdout.split(separator: "\n").last { $0.hasPrefix("metrics: ") }?.split(separator: " ").last { $0.hasSuffix(".rftckpt;") }?.dropLast())
        let inspect = try RFTBinary.run(["inspect", String(checkpoint)])
        #expect(inspect.succeeded && inspect.stdout.contains("score.weight"), "\(inspect)")

        // the learned reward in a diagnosis and in training: σ(r) in (0, 1)
        let diagnosed = try RFTBinary.run(["diagnose", "--model", "checkpoints/addition-base.rftckpt", "--task", "addition", "--lengths", "1-2",
                                           "--num-inputs", "8", "--num-generations", "4", "--reward-model", dir + "/rm", "--threads", "1",
                                           "--output", dir + "/diagnose"])
        #expect(diagnosed.succeeded, "\(diagnosed)")
        let rows = try String(contentsOfFile: dir + "/diagnose/inputs.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(rows.count == 8 && rows.allSatisfy { ($0["mean"] as? Double).map { $0 > 0 && $0 < 1 } ?? false }, "\(rows)")
        let trainedPolicy = try RFTBinary.run(["train", "--model", "checkpoints/addition-base.rftckpt", "--task", "addition", "--lengths", "1-2",
                                               "--num-inputs", "16", "--sft-warmup", "off", "--max-steps", "2", "--per-device-train-batch-size", "16",
                                               "--monitor-num-generations", "4", "--eval-inputs", "4", "--reward-funcs", "reward_model", "exact-match",
                                               "--reward-model", dir + "/rm", "--threads", "1", "--output", dir + "/train"])
        #expect(trainedPolicy.succeeded, "\(trainedPolicy)")
        let trainLines = try String(contentsOfFile: dir + "/train/metrics.jsonl", encoding: .utf8)
        #expect(trainLines.contains("\"rewards/reward_model/mean\""), "\(trainLines.prefix(600))")

        // errors: a language model is no reward model; no data; a bad line
        let notReward = try RFTBinary.run(["diagnose", "--model", "checkpoints/addition-base.rftckpt", "--task", "addition", "--num-inputs", "4",
                                           "--reward-model", "checkpoints/addition-base.rftckpt", "--output", dir + "/bad"])
        #expect(notReward.failedCleanly && notReward.stderr.contains("--reward-model (reward_model): ") && notReward.stderr.contains("holds no reward head (score.weight)"), "\(notReward)")
        let noData = try RFTBinary.run(["reward-train", "--model", "checkpoints/addition-base.rftckpt", "--output", dir + "/nodata"])
        #expect(noData.failedCleanly && noData.stderr.contains("--data (data): name the JSONL file of preference pairs"), "\(noData)")
        let badLine = dir + "/bad.jsonl"
        FileManager.default.createFile(atPath: badLine, contents: Data(#"{"prompt": "1+2", "chosen": "3"}"#.utf8))
        let bad = try RFTBinary.run(["reward-train", "--model", "checkpoints/addition-base.rftckpt", "--data", badLine, "--output", dir + "/badline"])
        #expect(bad.failedCleanly && bad.stderr.contains(badLine + ":1: missing \"rejected\""), "\(bad)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/badline/metrics.jsonl"))
    }
}
