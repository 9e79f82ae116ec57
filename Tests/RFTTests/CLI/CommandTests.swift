import Foundation
import Testing
@testable import RFT

/// The commands agree with each other and with TRL's files.
@Suite struct CommandTests {
    /// `rft diagnose` and `rft train`'s before row measure the same inputs with the same samples:
    /// the per-input reports are the same bytes, and the console says the same counts.
    @Test func diagnoseAgreesWithTrainsBeforeRow() throws {
        RFTBinary.expectBuilt()
        let dir = makeTemporaryDirectory("consistency")
        let common = ["--model", "checkpoints/addition-mislabeled.rftckpt", "--task", "addition", "--lengths", "1-3", "--num-inputs", "300",
                      "--threads", "1", "--seed", "5"]
        let diagnose = try RFTBinary.run(["diagnose"] + common + ["--output", dir + "/d"])
        #expect(diagnose.succeeded, "\(diagnose)")
        let train = try RFTBinary.run(["train"] + common + ["--max-steps", "0", "--sft-warmup", "off", "--output", dir + "/t"])
        #expect(train.succeeded, "\(train)")
        let a = readBytes(dir + "/d/inputs.jsonl"), b = readBytes(dir + "/t/diagnose-before.jsonl")
        #expect(!a.isEmpty && a == b, "diagnose and train's first diagnosis differ")
        let before = diagnose.stdout.split(separator: "\n").first { $0.hasPrefix("before: ") }
        #expect(before != nil && train.stdout.contains(before!), "console lines differ:\n\(diagnose.stdout)\n\(train.stdout)")
        let summary = try JSONDecoder().decode(JSONValue.self, from: Data(readBytes(dir + "/d/summary.json")))
        guard case .object(let o) = summary, case .object(let diagnoses)? = o["diagnoses"], case .object(let s)? = diagnoses["before"] else {
            Issue.record("summary.json has no diagnosis: \(summary)"); return
        }
        #expect(s["num_stuck"] != nil && s["frac_stuck"] != nil && s["num_solved"] != nil, "summary.json counts stuck inputs")
    }

    /// A TRL GRPO YAML file runs: the keys rft shares are read, the ones it skips are named.
    @Test func aTRLGRPOYAMLRuns() throws {
        let dir = makeTemporaryDirectory("trl")
        let config = dir + "/grpo.yaml"
        FileManager.default.createFile(atPath: config, contents: Data("""
            # a TRL GRPOConfig, as `trl grpo --config` reads it
            model_name_or_path: checkpoints/addition-mislabeled.rftckpt
            output_dir: \(dir)/run
            learning_rate: 1.0e-5
            lr_scheduler_type: constant_with_warmup
            warmup_steps: 1
            per_device_train_batch_size: 32
            num_generations: 8
            max_completion_length: 6
            num_iterations: 2
            epsilon: 0.2
            beta: 0.04
            loss_type: dr_grpo
            scale_rewards: batch
            max_steps: 3
            logging_steps: 1
            save_steps: 2
            save_total_limit: 1
            seed: 42
            bf16: true
            gradient_checkpointing: true
            use_vllm: false
            report_to: none
            task: addition
            lengths: 1-2
            num_inputs: 64
            threads: 1
            sft:
              warmup: off
            monitor:
              num_generations: 4

            """.utf8))
        let r = try RFTBinary.run(["train", "--config", config])
        #expect(r.succeeded, "\(r)")
        for key in ["bf16", "gradient_checkpointing", "use_vllm", "report_to"] { #expect(r.stdout.contains("\(key) ignored"), "\(key): \(r.stdout)") }
        #expect(r.stdout.contains("rft step   3/3") && r.stdout.contains("after RFT"))
        let written = String(decoding: readBytes(dir + "/run/config.yaml"), as: UTF8.self)
        #expect(written.contains("loss_type: dr_grpo") && written.contains("scale_rewards: batch") && written.contains("learning_rate: 1e-05"))
        let plots = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/run"))?.filter { $0.hasSuffix(".svg") }.sorted() ?? []
        #expect(plots == ["mean-vs-std-after-rft.svg", "mean-vs-std-before.svg", "reward.svg", "std-histogram.svg"], "\(plots)")
    }
}
