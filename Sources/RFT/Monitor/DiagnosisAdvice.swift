/// What to do about a diagnosis, in plain words, from its numbers: a constant reward is a
/// warning (it usually means a broken reward), a handful of stuck inputs needs no SFT, many
/// need a short SFT warm-up (Razin et al., ICLR 2024) — or references to make one possible.
public struct DiagnosisAdvice: Equatable, Sendable {
    /// The advice.
    public let text: String

    /// Stuck inputs fewer than this share of the inputs (and than 5) are "a handful".
    public static let handful = 0.01

    /// The advice for `summary`; `haveReferences` says whether every input has a reference.
    public init(summary s: RewardStdSummary, haveReferences: Bool) {
        let percent = { (x: Double) in String(format: "%.0f%%", 100 * x) }
        if s.rewardConstant, let r = s.reward {
            text = "warning: every sample of every input got the reward \(r): a constant reward gives RFT nothing to learn and usually means a broken reward (check the reward, its reference field and its range)"
        } else if s.numStuck == 0 {
            text = "\(percent(s.fracFlagged)) of inputs are flagged (reward std < \(s.stdThreshold)), none of them stuck (\(s.numSolved) solved): RFT has a gradient wherever there is something to learn."
        } else if s.numStuck < 5 || s.fracStuck < Self.handful {
            text = "\(s.numStuck) of \(s.numInputs) inputs are stuck (flagged with a low reward): too few for an SFT warm-up to matter; RFT as is."
        } else if haveReferences {
            text = "\(percent(s.fracStuck)) of inputs (\(s.numStuck)) are stuck with a low mean reward — RFT will not move them: run `rft train --sft-warmup 1%` (a short SFT phase on a small subset gives them the probability RFT needs; Razin et al., ICLR 2024; `--sft-strategy lowest-std` aims it at the lowest-std inputs, stuck before solved)."
        } else {
            text = "\(percent(s.fracStuck)) of inputs (\(s.numStuck)) are stuck with a low mean reward — RFT will not move them: add reference completions (\"completion\") so a short SFT warm-up can free them (`rft train --sft-warmup 1%`)."
        }
    }
}
