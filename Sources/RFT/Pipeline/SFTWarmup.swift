/// Whether and how much SFT runs before RFT (`sft.warmup`).
public enum SFTWarmup: Equatable, Sendable, ConfigText {
    /// RFT only.
    case off
    /// SFT on this share of the inputs (chosen by the curriculum) for `sft.max_steps` steps.
    case fraction(Double)
    /// SFT on the curriculum's subset in rounds of `checkEvery` steps, re-measuring after each,
    /// until the share of stuck inputs falls below `level`, stops falling (the weights of the best
    /// check are kept: SFT on a tiny subset overfits), or `sft.max_steps` is spent.
    case auto(level: Double, checkEvery: Int)

    /// Parses `0`, `off`, `1%`, `0.01`, `auto` or `auto:0.05`.
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        func bad() -> ConfigError {
            .invalid(key: "sft.warmup", reason: "expected a fraction (0.01), a percentage (1%), 0/off, or auto[:level], got \(text.debugDescription)")
        }
        if t == "off" || t == "none" { self = .off; return }
        if t.hasPrefix("auto") {
            let rest = t.dropFirst(4)
            if rest.isEmpty { self = .auto(level: 0.05, checkEvery: 10); return }
            if rest.hasPrefix(":"), let level = Double(rest.dropFirst()), level >= 0, level < 1 { self = .auto(level: level, checkEvery: 10); return }
            throw bad()
        }
        let percent = t.hasSuffix("%")
        guard let v = Double(percent ? String(t.dropLast()) : t), v.isFinite, v >= 0 else { throw bad() }
        let f = percent ? v / 100 : v
        guard f <= 1 else { throw bad() }
        self = f == 0 ? .off : .fraction(f)
    }

    /// `off`, `1%`, `auto:0.05`.
    public var text: String {
        switch self {
        case .off: return "off"
        case .fraction(let f): return "\(SVGPlot.format(f * 100))%"
        case .auto(let level, _): return "auto:\(SVGPlot.format(level))"
        }
    }

    /// The written forms.
    public static let format = "share|N%|off|auto[:level]"

    /// Written as its text.
    public init(from decoder: Decoder) throws { try self.init(parsing: try decoder.singleValueContainer().decode(String.self)) }
    /// Written as its text.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

import Foundation
