import RFTModel
import RFTTensor

/// Everything a pipeline runs with besides its inputs and reward: the stages, each stage's
/// settings, checkpointing and logging. The run configurations (`TrainConfig`, `SFTRunConfig`,
/// `PretrainConfig`, `DiagnoseConfig`) build one; code that embeds rft can build its own.
public struct PipelinePlan {
    /// Where the SFT stage's examples come from.
    public enum SFTSource {
        /// The curriculum's subset of the inputs, chosen from the first diagnosis (`warmup`, `strategy`).
        case curriculum
        /// A source of the caller's (all the inputs, a held-in split, a task's generator).
        case examples(ExampleSource)
    }

    /// The stages to run, in order.
    public var stages: [PipelineStage]
    /// The RFT stage's settings.
    public var grpo = GRPOConfig()
    /// The SFT stage's settings.
    public var sft = SFTConfig()
    /// Where the SFT stage's examples come from.
    public var sftSource = SFTSource.curriculum
    /// How much warm-up, when the SFT examples come from the curriculum.
    public var warmup = SFTWarmup.fraction(0.01)
    /// How the curriculum picks its subset.
    public var strategy = CurriculumStrategy.random
    /// The reward-model stage's settings.
    public var rewardTraining = RewardTrainingConfig()
    /// The reward-model stage's training pairs.
    public var preferencePairs: [PreferencePair] = []
    /// Held-out pairs the reward-model stage evaluates on (`eval_loss`, `eval_accuracy`) every
    /// `evalSteps` and at its end; none: no evaluation.
    public var heldOutPairs: [PreferencePair] = []
    /// The diagnoses' settings.
    public var monitor = RewardStdMonitor()
    /// When an input is flagged and when stuck (monitor, tracker and tables).
    public var criterion = StuckCriterion()
    /// Save a checkpoint every this many trainer steps, and during a diagnosis every this many
    /// batches of inputs; 0 saves no checkpoint at all (no resume).
    public var saveSteps = 20
    /// Checkpoints kept (the newest).
    public var saveTotalLimit = 2
    /// A progress line every this many trainer steps.
    public var loggingSteps = 10
    /// Threads of this run's work.
    public var threads = 2
    /// Evaluate the SFT stage (with `evaluate`) and the reward-model stage (on `heldOutPairs`)
    /// every this many steps (0: only at the stage's end).
    public var evalSteps = 0
    /// The SFT stage's evaluation (e.g. held-out loss), if any.
    public var evaluate: ((GPT) throws -> [String: Double])?
    /// Held-out inputs whose greedy accuracy each diagnosis reports (none: no accuracy column).
    public var heldOut: [TaskExample] = []
    /// The diagnoses' report files, by stage (`diagnose-before` → .jsonl, .csv); none: not written.
    public var reportFiles: [PipelineStage: String] = [:]
    /// The run's settings as written (`ConfigSchema` keys → text): recorded in every checkpoint.
    public var settings: [String: String] = [:]
    /// Keys of `settings` that a resume may change (they cannot change the result).
    public var mayChange: Set<String> = ["output_dir", "logging_steps", "save_steps", "save_total_limit", "reward_timeout", "threads"]
    /// The run's configuration as a file `--config` reads (written to the output folder as config.yaml).
    public var configYAML: String?

    /// A plan of `stages` with default settings.
    public init(stages: [PipelineStage]) { self.stages = stages }

    /// The plan's settings from a run configuration: `settings` and `configYAML`; `resumable`
    /// are further keys a resume may change (e.g. `max_steps` under a constant schedule).
    public mutating func record(_ config: any Configuration, resumable: Set<String> = []) {
        // where the run writes is not what it is: checkpoints of the same run in two folders are the same bytes
        settings = Dictionary(ConfigSchema.values(config).filter { $0.entry.key != "output_dir" }
                                .compactMap { e in ConfigSchema.text(of: e.value).map { (e.entry.key, $0) } },
                              uniquingKeysWith: { a, _ in a })
        configYAML = ConfigHelp.yaml(config)
        mayChange.formUnion(resumable)
    }

    /// `key` when `schedule` does not depend on the run's length (so `max_steps` may grow on resume).
    public static func lengthFree(_ key: String, _ schedule: LRSchedule.Kind) -> Set<String> {
        schedule == .constant || schedule == .constantWithWarmup ? [key] : []
    }
}
