import Foundation
import Testing
@testable import RFT

/// A file in a fresh temporary folder.
func temporaryFile(_ name: String, _ text: String) -> String {
    let path = makeTemporaryDirectory("config") + "/" + name
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    return path
}

/// One configuration from files and flags: the library's defaults, files, flags on top.
struct ConfigTests {
    static func resolve<T: Configuration>(_ type: T.Type, _ arguments: [String]) throws -> (T, [String]) {
        try CommandLineArguments.parse(arguments, for: T.self, switches: ["resume"], maxPositional: 0).resolve(T.self)
    }

    /// Every command's keys map to distinct flags, every key has help, and TRL's names are there.
    @Test func schemasAreSoundAndUseTRLNames() {
        let types: [any Configuration.Type] = [TrainConfig.self, SFTRunConfig.self, PretrainConfig.self, DiagnoseConfig.self,
                                               EvalConfig.self, SampleConfig.self, ExportConfig.self]
        for type in types {
            let entries = ConfigSchema.entries(type)
            let flags = entries.map { ConfigSchema.flag(for: $0.key) }
            #expect(Set(flags).count == flags.count, "\(type): two keys share a flag")
            #expect(entries.allSatisfy { !$0.help.isEmpty }, "\(type): keys without help: \(entries.filter { $0.help.isEmpty }.map(\.key))")
        }
        let train = Set(ConfigSchema.entries(TrainConfig.self).map(\.key))
        for key in ["learning_rate", "max_steps", "num_generations", "max_completion_length", "beta", "epsilon", "temperature", "top_k",
                    "top_p", "weight_decay", "max_grad_norm", "warmup_steps", "warmup_ratio", "lr_scheduler_type", "seed", "save_steps",
                    "save_total_limit", "logging_steps", "output_dir", "model_name_or_path", "num_iterations", "loss_type", "scale_rewards",
                    "per_device_train_batch_size", "std_threshold", "sft.max_steps", "sft.learning_rate", "sft.warmup", "monitor.num_generations"] {
            #expect(train.contains(key), "rft train has no key \(key)")
        }
        #expect(!train.contains("sft.seed") && !train.contains("monitor.seed"), "section seeds come from seed")
        // one name for the low-std threshold, the same in both commands that flag inputs
        #expect(Set(ConfigSchema.entries(DiagnoseConfig.self).map(\.key)).contains("std_threshold"))
        #expect(!train.contains { $0.contains("threshold") && $0 != "std_threshold" })
    }

    /// Library defaults are the CLI's: nothing is set twice.
    @Test func defaultsAreTheLibrarysOwn() throws {
        let (config, warnings) = try Self.resolve(TrainConfig.self, [])
        #expect(config == TrainConfig() && warnings.isEmpty)
        #expect(config.grpo.promptsPerStep == 32 && config.grpo.training.learningRate == 5e-5 && config.sft.trainer.training.maxSteps == 20)
        #expect(GRPOConfig().promptsPerStep == 32 && GRPOConfig().maxCompletionLength == nil)
    }

    /// A TRL GRPO YAML: nested sections, comments, quotes with # and commas, CRLF line ends,
    /// a TRL key rft skips (with a warning) — and flags on the command line win.
    @Test func aTRLStyleYAMLFileResolves() throws {
        let yaml = """
            # TRL-style GRPO config\r
            model_name_or_path: checkpoints/addition-base.rftckpt\r
            output_dir: "runs/x # not a comment"\r
            learning_rate: 1.0e-5\r
            lr_scheduler_type: cosine\r
            warmup_ratio: 0.1\r
            per_device_train_batch_size: 64\r
            num_generations: 8\r
            max_completion_length: 12\r
            beta: 0.04\r
            loss_type: grpo\r
            scale_rewards: false\r
            max_steps: 10\r
            bf16: true\r
            gradient_checkpointing: true\r
            use_vllm: false\r
            seed: 3\r
            reward_cmd: [python3, "r.py", "a, b"]\r
            sft:\r
              warmup: 5%\r
              max_steps: 7\r
            monitor:\r
              num_generations: 12\r

            """
        let path = temporaryFile("grpo.yaml", yaml)
        let (c, warnings) = try Self.resolve(TrainConfig.self, ["--config", path, "--max-steps", "11", "--sft-learning-rate", "1e-3"])
        #expect(c.inputs.modelNameOrPath == "checkpoints/addition-base.rftckpt" && c.run.outputDir == "runs/x # not a comment")
        #expect(c.grpo.training.learningRate == 1e-5 && c.grpo.training.lrSchedulerType == .cosine && c.grpo.training.warmupRatio == 0.1)
        #expect(c.grpo.promptsPerStep == 8 && c.grpo.maxCompletionLength == 12 && c.grpo.loss.beta == 0.04)
        #expect(c.grpo.loss.lossType == .grpo && c.grpo.scaleRewards == ScaleRewards.none && c.grpo.training.seed == 3)
        #expect(c.grpo.training.maxSteps == 11, "the flag wins over the file")
        #expect(c.reward.rewardCmd == ["python3", "r.py", "a, b"])
        #expect(c.sft.warmup == .fraction(0.05) && c.sft.trainer.training.maxSteps == 7 && c.sft.trainer.training.learningRate == 1e-3)
        #expect(c.monitor.numGenerations == 12)
        #expect(warnings.count == 3 && warnings.allSatisfy { $0.contains("ignored") }, "\(warnings)")
        #expect(warnings[0].contains("\(path):14: bf16 ignored: rft computes in float32"), "\(warnings)")
    }

    /// `none` on the command line is null for an optional key, and the value `none` for a key
    /// that has one (`--scale-rewards none`, `--chat-template none`).
    @Test func noneIsAValueWhereAKeyHasOne() throws {
        let (train, _) = try Self.resolve(TrainConfig.self, ["--scale-rewards", "none", "--chat-template", "none", "--max-completion-length", "none"])
        #expect(train.grpo.scaleRewards == ScaleRewards.none && train.inputs.chatTemplate == ChatTemplateChoice.none && train.grpo.maxCompletionLength == nil)
        let (sample, _) = try Self.resolve(SampleConfig.self, ["--chat-template", "llama3"])
        #expect(sample.chatTemplate == .llama3)
        #expect(throws: ConfigError.badValue(key: "chat_template", value: "null", expected: "a value is required", source: .flag("--chat-template"))) {
            try Self.resolve(SampleConfig.self, ["--chat-template", "null"])
        }
    }

    /// The same configuration written as JSON, with nested objects.
    @Test func jsonFilesWithSections() throws {
        let path = temporaryFile("c.json", #"{"learning_rate": 0.001, "dynamic_sampling": true, "sft": {"max_steps": 3}, "reward_cmd": ["python3", "r.py"]}"#)
        let (c, _) = try Self.resolve(TrainConfig.self, ["--config", path])
        #expect(c.grpo.training.learningRate == 0.001 && c.grpo.dynamicSampling && c.sft.trainer.training.maxSteps == 3)
        #expect(c.reward.rewardCmd == ["python3", "r.py"])
    }

    /// Every command's configuration written as YAML reads back equal (with values off their defaults).
    @Test func configurationsRoundTripThroughYAML() throws {
        var train = TrainConfig()
        train.inputs.data = "my data.jsonl"
        train.inputs.lengths = LengthRange(2...5)
        train.reward.rewardCmd = ["python3", "-u", "r.py", "--flag", "x: y"]
        train.criterion.rewardMin = -1
        train.grpo.training.learningRate = 3.5e-6
        train.grpo.training.lrSchedulerType = .cosineWithMinLR
        train.grpo.training.lrSchedulerKwargs.minLrRate = 0.2
        train.grpo.maxCompletionLength = 17
        train.grpo.loss.lossType = .drGRPO
        train.grpo.scaleRewards = .batch
        train.sft.warmup = .auto(level: 0.1, checkEvery: 10)
        train.sft.strategy = .lowestStd
        train.monitor.mode = .exact
        train.evalData = "123"
        try roundTrip(train)
        var pretrain = PretrainConfig()
        pretrain.shape.contextLength = 40
        pretrain.mislabelLeading = "7"
        pretrain.task = "copy"
        try roundTrip(pretrain)
        var sample = SampleConfig()
        sample.maxNewTokens = 5
        sample.raw = true
        try roundTrip(sample)
        try roundTrip(DiagnoseConfig())
        try roundTrip(SFTRunConfig())
        try roundTrip(EvalConfig())
    }

    func roundTrip<T: Configuration>(_ config: T) throws {
        let path = temporaryFile("round.yaml", ConfigHelp.yaml(config))
        let (back, _) = try Self.resolve(T.self, ["--config", path])
        #expect(back == config, "\(T.self) did not survive:\n\(ConfigHelp.yaml(config))")
    }

    /// Errors name the flag or the file line, the rule, and the nearest known name.
    @Test func errorsSayWhatAndWhere() throws {
        func message(_ args: [String]) -> String {
            do { _ = try Self.resolve(TrainConfig.self, args); return "no error" } catch { return "\(error)" }
        }
        #expect(message(["--max-steps", "-5"]) == "--max-steps: must be in 0…1073741824, got -5")
        #expect(message(["--beta", "-1"]) == "--beta: must be ≥ 0.0, got -1.0")
        #expect(message(["--lerning-rate", "1"]) == "--lerning-rate: unknown flag; did you mean --learning-rate?")
        #expect(message(["--steps", "1"]) == "--steps: unknown flag; did you mean --max-steps?")
        #expect(message(["--learning-rate", "nan"]) == "--learning-rate \"nan\": expected a finite number")
        #expect(message(["--learning-rate", "inf"]) == "--learning-rate \"inf\": expected a finite number")
        #expect(message(["--num-generations", "1e9"]) == "--num-generations: must be in 1…65536, got 1000000000")
        #expect(message(["--max-steps"]) == "--max-steps needs a value")
        #expect(message(["--loss-type", "grpoo"]).contains("expected one of grpo, bnpo, dr_grpo, dapo; did you mean grpo?"))
        #expect(message(["--reward-timeout", "0"]).hasPrefix("--reward-timeout: must be a number of seconds"))
        #expect(message(["--per-device-train-batch-size", "100"]).contains("multiple of num_generations"))
        #expect(message(["--steps-per-generation", "4"]).contains("not supported by rft: rft samples each step's completions at once"))
        #expect(message(["--sft-seed", "3"]).contains("not supported by rft: set from seed"))
        #expect(message(["positional"]) == "unexpected argument \"positional\"")
        let bad = temporaryFile("bad.yaml", "learning_rate: 1e-4\nsft:\n  max_stepz: 3\n")
        #expect(message(["--config", bad]) == "\(bad):3: sft.max_stepz: unknown key; did you mean sft.max_steps?")
        let broken = temporaryFile("broken.yaml", "a: [1, 2\n")
        #expect(message(["--config", broken]).hasPrefix("\(broken):"))
        let twice = temporaryFile("twice.yaml", "beta: 1\nbeta: 2\n")
        #expect(message(["--config", twice]).hasPrefix(twice) && message(["--config", twice]).contains("'beta'"))
        let typed = temporaryFile("typed.yaml", "max_steps: many\n")
        #expect(message(["--config", typed]) == "\(typed):1: max_steps \"many\": expected an integer")
        #expect(message(["--config", "/nonexistent/c.yaml"]) == "/nonexistent/c.yaml: no such file or folder")
        #expect(message(["--config", NSTemporaryDirectory()]).hasSuffix("is a folder, not a file"))
    }

    /// A list flag takes arguments starting with a dash; it ends at the next flag of the command or `--`.
    @Test func listFlagsTakeDashedArguments() throws {
        let (a, _) = try Self.resolve(TrainConfig.self, ["--reward-cmd", "python3", "-u", "r.py", "-x", "--beta", "0.1"])
        #expect(a.reward.rewardCmd == ["python3", "-u", "r.py", "-x"] && a.grpo.loss.beta == 0.1)
        let (b, _) = try Self.resolve(TrainConfig.self, ["--reward-cmd", "prog", "x", "--seed", "3"])
        #expect(b.reward.rewardCmd == ["prog", "x"] && b.grpo.training.seed == 3, "--seed is rft's flag: the list ends before it")
        let (e, _) = try Self.resolve(TrainConfig.self, ["--reward-cmd", "prog", "--", "--beta", "0.2"])
        #expect(e.reward.rewardCmd == ["prog"] && e.grpo.loss.beta == 0.2, "a lone -- ends the list")
        let args = try CommandLineArguments.parse(["--dynamic-sampling", "--resume", "--skip-invalid=false", "--task=copy"],
                                                  for: TrainConfig.self, switches: ["resume"])
        #expect(args.switches == ["resume"])
        let (c, _) = try args.resolve(TrainConfig.self)
        #expect(c.grpo.dynamicSampling && !c.inputs.skipInvalid && c.inputs.task == "copy")
        let (d, _) = try Self.resolve(TrainConfig.self, ["--model", "m.rftckpt", "--output", "o", "--learning_rate", "2e-5"])
        #expect(d.inputs.modelNameOrPath == "m.rftckpt" && d.run.outputDir == "o" && d.grpo.training.learningRate == 2e-5)
    }

    /// `--help` lists every key once with its default.
    @Test func helpListsEveryKey() {
        let text = ConfigHelp.text(TrainConfig.self)
        for e in ConfigSchema.entries(TrainConfig.self) { #expect(text.contains(ConfigSchema.flag(for: e.key) + " ") || text.contains(ConfigSchema.flag(for: e.key) + "\n")) }
        #expect(text.contains("--model, --model-name-or-path <text>") && text.contains("(default 5e-05)"))
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 80 }, "help lines fit 80 columns")
    }
}
