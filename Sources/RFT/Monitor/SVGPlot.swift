#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// Tiny dependency-free SVG plots for reports: a histogram, a scatter plot and a multi-series
/// line plot, each a complete standalone SVG document as a `String` (axes with "nice" ticks,
/// labels, a legend; text XML-escaped; non-finite values skipped).
public enum SVGPlot {
    /// One named set of points and its colour.
    public struct Series: Sendable {
        /// Legend text.
        public var name: String
        /// The points (x, y); non-finite ones are skipped.
        public var points: [(x: Double, y: Double)]
        /// A CSS colour (`#1f77b4`).
        public var color: String

        /// A series.
        public init(name: String, points: [(x: Double, y: Double)], color: String) {
            self.name = name
            self.points = points
            self.color = color
        }
    }

    /// matplotlib's default blue.
    public static let blue = "#1f77b4"
    /// matplotlib's default red.
    public static let red = "#d62728"
    /// A palette for line plots (matplotlib's tab10).
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// Canvas size and the plot area's margins, in pixels.
    static let width = 640.0, height = 420.0
    static let left = 70.0, right = 20.0, bottom = 60.0
    /// Top margin without a legend (the title sits in it); each legend row adds `legendRow`.
    static let top = 40.0, legendRow = 18.0

    /// A histogram of `values` in `bins` equal bins over `range` (default: the values' range),
    /// with an optional labelled vertical `marker` line (e.g. the std threshold).
    public static func histogram(values: [Double], bins: Int = 30, range: ClosedRange<Double>? = nil,
                                 marker: (value: Double, label: String)? = nil,
                                 title: String, xLabel: String, yLabel: String) -> String {
        histogram(series: [(name: "", values: values, color: blue)], bins: bins, range: range, marker: marker,
                  title: title, xLabel: xLabel, yLabel: yLabel)
    }

    /// Histograms of several named sets of values over the same bins, drawn over each other
    /// (translucent) with a legend, e.g. the per-input std before and after training.
    public static func histogram(series: [(name: String, values: [Double], color: String)], bins: Int = 30,
                                 range: ClosedRange<Double>? = nil, marker: (value: Double, label: String)? = nil,
                                 title: String, xLabel: String, yLabel: String) -> String {
        let finite = series.map { $0.values.filter(\.isFinite) }
        let all = finite.flatMap { $0 }
        let nBins = max(1, bins)
        var lo = range?.lowerBound ?? all.min() ?? 0, hi = range?.upperBound ?? all.max() ?? 1
        if let m = marker?.value, m.isFinite, range == nil { lo = min(lo, m); hi = max(hi, m) }
        (lo, hi) = widened(lo, hi)
        let counts = finite.map { values -> [Int] in
            var c = [Int](repeating: 0, count: nBins)
            for x in values where x >= lo && x <= hi { c[min(nBins - 1, Int((x - lo) / (hi - lo) * Double(nBins)))] += 1 }
            return c
        }
        let named = series.filter { !$0.name.isEmpty }
        let rows = legendLayout(named.map(\.name))
        let frame = Frame(x: (lo, hi), y: (0, Double(max(1, counts.flatMap { $0 }.max() ?? 1)) * 1.05),
                          top: top + legendRow * Double(rows.count))
        var body = frame.axes(title: title, xLabel: xLabel, yLabel: yLabel, integerY: true)
        let binWidth = (hi - lo) / Double(nBins)
        let opacity = series.count > 1 ? "0.5" : "0.8"
        for (s, c) in zip(series, counts) {
            for (b, n) in c.enumerated() where n > 0 {
                let x0 = frame.px(lo + Double(b) * binWidth), x1 = frame.px(lo + Double(b + 1) * binWidth)
                let y = frame.py(Double(n))
                let label = (s.name.isEmpty ? "" : s.name + ": ") + "\(format(lo + Double(b) * binWidth))–\(format(lo + Double(b + 1) * binWidth)): \(n)"
                body += "<rect x=\"\(format(x0))\" y=\"\(format(y))\" width=\"\(format(max(0.5, x1 - x0 - 1)))\" height=\"\(format(frame.py(0) - y))\" fill=\"\(escape(s.color))\" fill-opacity=\"\(opacity)\"><title>\(escape(label))</title></rect>\n"
            }
        }
        if let marker, marker.value.isFinite, marker.value >= lo, marker.value <= hi {
            let x = frame.px(marker.value)
            body += "<line x1=\"\(format(x))\" y1=\"\(format(frame.top))\" x2=\"\(format(x))\" y2=\"\(format(height - bottom))\" stroke=\"\(red)\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n"
            body += "<text x=\"\(format(x + 4))\" y=\"\(format(frame.top + 14))\" font-size=\"12\" fill=\"\(red)\">\(escape(marker.label))</text>\n"
        }
        let n = finite.map(\.count)
        body += "<text x=\"\(format(width - right))\" y=\"\(format(top - 6))\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">n = \(n.count == 1 ? "\(n[0])" : n.map(String.init).joined(separator: " / "))</text>\n"
        body += legend(named.map { ($0.name, $0.color) }, rows: rows, line: false)
        return document(body)
    }

    /// A scatter plot of `series` (each in its colour, with a legend), with an optional labelled
    /// horizontal line (e.g. the std threshold). Points of a series that coincide (as 0/1
    /// rewards' means and stds do, by the hundred) are drawn once, as a marker whose area grows
    /// with their number and which carries the count.
    public static func scatter(series: [Series], horizontalLine: (value: Double, label: String)? = nil,
                               title: String, xLabel: String, yLabel: String) -> String {
        let points = series.flatMap { $0.points.filter { $0.x.isFinite && $0.y.isFinite } }
        var ys = points.map(\.y)
        if let h = horizontalLine?.value, h.isFinite { ys.append(h) }
        let rows = legendLayout(series.map(\.name))
        let frame = Frame(x: padded(widened(points.map(\.x).min() ?? 0, points.map(\.x).max() ?? 1)),
                          y: padded(widened(min(0, ys.min() ?? 0), ys.max() ?? 1)), top: top + legendRow * Double(rows.count))
        var body = frame.axes(title: title, xLabel: xLabel, yLabel: yLabel, integerY: false)
        if let h = horizontalLine, h.value.isFinite {
            let y = frame.py(h.value)
            body += "<line x1=\"\(format(left))\" y1=\"\(format(y))\" x2=\"\(format(width - right))\" y2=\"\(format(y))\" stroke=\"#555\" stroke-width=\"1\" stroke-dasharray=\"6 4\"/>\n"
            body += "<text x=\"\(format(width - right - 4))\" y=\"\(format(y - 4))\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">\(escape(h.label))</text>\n"
        }
        for s in series {
            body += "<g fill=\"\(escape(s.color))\" fill-opacity=\"0.7\">\n"
            var counts: [String: (x: Double, y: Double, n: Int)] = [:], order: [String] = []
            for p in s.points where p.x.isFinite && p.y.isFinite {
                let key = "\(format(frame.px(p.x))),\(format(frame.py(p.y)))"
                if counts[key] == nil { order.append(key); counts[key] = (p.x, p.y, 0) }
                counts[key]!.n += 1
            }
            for key in order {
                let c = counts[key]!
                let x = frame.px(c.x), y = frame.py(c.y), r = min(24, 3 * Double(c.n).squareRoot())
                body += "<circle cx=\"\(format(x))\" cy=\"\(format(y))\" r=\"\(format(max(3, r)))\"><title>\(escape("\(s.name): \(c.n) at (\(format(c.x)), \(format(c.y)))"))</title></circle>\n"
                if c.n > 1 {
                    body += "<text x=\"\(format(x + max(3, r) + 2))\" y=\"\(format(y - max(3, r) - 2))\" font-size=\"11\" fill=\"#222\" fill-opacity=\"1\">\(c.n)</text>\n"
                }
            }
            body += "</g>\n"
        }
        body += legend(series.map { ($0.name, $0.color) }, rows: rows, line: false)
        return document(body)
    }

    /// A line plot of several series (e.g. reward vs step, one line per run), coloured from
    /// `palette` unless a series names its colour, with a legend.
    public static func linePlot(series: [Series], title: String, xLabel: String, yLabel: String) -> String {
        let points = series.flatMap { $0.points.filter { $0.x.isFinite && $0.y.isFinite } }
        let rows = legendLayout(series.map(\.name))
        let frame = Frame(x: widened(points.map(\.x).min() ?? 0, points.map(\.x).max() ?? 1),
                          y: padded(widened(points.map(\.y).min() ?? 0, points.map(\.y).max() ?? 1)),
                          top: top + legendRow * Double(rows.count))
        var body = frame.axes(title: title, xLabel: xLabel, yLabel: yLabel, integerY: false)
        for s in series {
            let coordinates = s.points.filter { $0.x.isFinite && $0.y.isFinite }
                .map { "\(format(frame.px($0.x))),\(format(frame.py($0.y)))" }
            guard !coordinates.isEmpty else { continue }
            body += "<polyline fill=\"none\" stroke=\"\(escape(s.color))\" stroke-width=\"1.8\" points=\"\(coordinates.joined(separator: " "))\"/>\n"
        }
        body += legend(series.map { ($0.name, $0.color) }, rows: rows, line: true)
        return document(body)
    }

    /// `x` with at most 4 decimals and no trailing zeros (`0.05`, `12`, `-3.1416`).
    public static func format(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        var s = String(Double((x * 10_000).rounded()) / 10_000)
        if s.hasSuffix(".0") { s.removeLast(2) }
        if s == "-0" { s = "0" }
        return s  // huge values keep Swift's exponent form ("1e+16"), which SVG numbers allow
    }

    /// `text` with XML's special characters escaped.
    public static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// "Nice" tick values covering lo...hi: about `count` steps of 1, 2 or 5 × 10ᵏ.
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 6) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(max(1, count))
        let exponent = Int(log10(raw).rounded(.down))
        let power = pow(10, Double(abs(exponent)))
        let mantissa = [1.0, 2, 5, 10].first { $0 * (exponent < 0 ? 1 / power : power) >= raw } ?? 10
        // tick k is k·mantissa·10^exponent, computed as an integer times or over a power of ten
        // so that 0.6 prints as 0.6, not 0.6000000000000001
        let value = { (k: Double) in exponent < 0 ? k * mantissa / power : k * mantissa * power }
        let step = value(1)
        var out: [Double] = []
        var k = (lo / step).rounded(.up)
        while value(k) <= hi + step * 1e-9, out.count < 1000 {
            out.append(value(k) == 0 ? 0 : value(k))
            k += 1
        }
        return out
    }

    // MARK: - Internals

    /// A range that is not empty: equal ends are spread by ±0.5 (or ±10%).
    static func widened(_ lo: Double, _ hi: Double) -> (Double, Double) {
        guard lo.isFinite, hi.isFinite else { return (0, 1) }
        if hi > lo { return (lo, hi) }
        let pad = lo == 0 ? 0.5 : abs(lo) * 0.1
        return (lo - pad, hi + pad)
    }

    /// The range grown by 4% on each side, so points on the extremes are not cut by the frame.
    static func padded(_ r: (Double, Double)) -> (Double, Double) {
        let pad = (r.1 - r.0) * 0.04
        return (r.0 - pad, r.1 + pad)
    }

    /// Maps data coordinates to the plot area and draws the axes.
    struct Frame {
        let x: (Double, Double), y: (Double, Double)
        /// The plot area's top edge (below the title and the legend).
        let top: Double

        func px(_ v: Double) -> Double { left + (v - x.0) / (x.1 - x.0) * (width - left - right) }
        func py(_ v: Double) -> Double { height - bottom - (v - y.0) / (y.1 - y.0) * (height - top - bottom) }

        /// Frame, ticks with labels, axis labels and title.
        func axes(title: String, xLabel: String, yLabel: String, integerY: Bool) -> String {
            var s = "<rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(width - left - right))\" height=\"\(format(height - top - bottom))\" fill=\"none\" stroke=\"#333\"/>\n"
            for t in ticks(x.0, x.1) {
                let p = px(t)
                s += "<line x1=\"\(format(p))\" y1=\"\(format(height - bottom))\" x2=\"\(format(p))\" y2=\"\(format(height - bottom + 5))\" stroke=\"#333\"/>"
                s += "<text x=\"\(format(p))\" y=\"\(format(height - bottom + 18))\" font-size=\"11\" text-anchor=\"middle\">\(format(t))</text>\n"
            }
            for t in ticks(y.0, y.1) where !integerY || t == t.rounded() {
                let p = py(t)
                s += "<line x1=\"\(format(left - 5))\" y1=\"\(format(p))\" x2=\"\(format(left))\" y2=\"\(format(p))\" stroke=\"#333\"/>"
                s += "<line x1=\"\(format(left))\" y1=\"\(format(p))\" x2=\"\(format(width - right))\" y2=\"\(format(p))\" stroke=\"#ddd\"/>"
                s += "<text x=\"\(format(left - 8))\" y=\"\(format(p + 4))\" font-size=\"11\" text-anchor=\"end\">\(format(t))</text>\n"
            }
            s += "<text x=\"\(format((left + width - right) / 2))\" y=\"\(format(height - 15))\" font-size=\"13\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
            s += "<text x=\"18\" y=\"\(format((top + height - bottom) / 2))\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(format((top + height - bottom) / 2)))\">\(escape(yLabel))</text>\n"
            s += "<text x=\"\(format(width / 2))\" y=\"24\" font-size=\"15\" text-anchor=\"middle\" font-weight=\"bold\">\(escape(title))</text>\n"
            return s
        }
    }

    /// Approximate width of a legend entry: swatch, gap, ~6.8 px per character, spacing.
    static func legendEntryWidth(_ name: String) -> Double { 26 + Double(name.count) * 6.8 + 18 }

    /// Legend entries (indices) per row, filling rows left to right across the plot's width.
    static func legendLayout(_ names: [String]) -> [[Int]] {
        var rows: [[Int]] = [], used = 0.0
        for (i, name) in names.enumerated() {
            let w = legendEntryWidth(name)
            if rows.isEmpty || used + w > width - left - right { rows.append([]); used = 0 }
            rows[rows.count - 1].append(i)
            used += w
        }
        return rows
    }

    /// The legend between the title and the plot area: rows of a swatch (dot or line) and a name.
    static func legend(_ entries: [(name: String, color: String)], rows: [[Int]], line: Bool) -> String {
        guard !entries.isEmpty else { return "" }
        var s = "<g font-size=\"12\">\n"
        for (r, row) in rows.enumerated() {
            let y = top + Double(r) * legendRow + 4
            var x = left
            for i in row {
                let e = entries[i]
                if line {
                    s += "<line x1=\"\(format(x))\" y1=\"\(format(y - 4))\" x2=\"\(format(x + 20))\" y2=\"\(format(y - 4))\" stroke=\"\(escape(e.color))\" stroke-width=\"2\"/>"
                } else {
                    s += "<circle cx=\"\(format(x + 10))\" cy=\"\(format(y - 4))\" r=\"4\" fill=\"\(escape(e.color))\"/>"
                }
                s += "<text x=\"\(format(x + 26))\" y=\"\(format(y))\">\(escape(e.name))</text>\n"
                x += legendEntryWidth(e.name)
            }
        }
        return s + "</g>\n"
    }

    /// The SVG document around `body`.
    static func document(_ body: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(format(width))\" height=\"\(format(height))\" viewBox=\"0 0 \(format(width)) \(format(height))\" font-family=\"sans-serif\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body + "</svg>\n"
    }
}
