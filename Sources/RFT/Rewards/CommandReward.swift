import Foundation
import RFTModel

/// How a reward command's process ended.
public enum ChildTermination: Equatable, Sendable, CustomStringConvertible {
    /// It exited with this status.
    case exited(Int32)
    /// A signal (this number) killed it.
    case signaled(Int32)
    /// It closed its standard output but kept running (rft then killed it).
    case closedOutput

    /// `exit status 3`, `killed by signal 11`, ….
    public var description: String {
        switch self {
        case .exited(let s): return "exit status \(s)"
        case .signaled(let s): return "killed by signal \(s)"
        case .closedOutput: return "closed its standard output"
        }
    }
}

/// What went wrong talking to a reward command; each case names the command and the batch.
public enum CommandRewardError: Error, Equatable, CustomStringConvertible {
    /// The program cannot be found or started.
    case cannotStart(command: String, reason: String)
    /// The process ended (or closed its output) before answering; `stderr` holds its last lines.
    case childExited(command: String, batch: Int, termination: ChildTermination, stderr: [String])
    /// No answer within the timeout; the process was killed.
    case timeout(command: String, batch: Int, seconds: Double)
    /// The answer is not a JSON object of the expected form; `line` is its first 200 characters.
    case malformedResponse(command: String, batch: Int, line: String, reason: String)
    /// The answer's `id` is not the request's.
    case wrongID(command: String, expected: Int, got: String)
    /// The answer holds a different number of rewards than the request had items.
    case wrongCount(command: String, batch: Int, expected: Int, got: Int)
    /// A reward is NaN or infinite (bare `NaN`/`Infinity` as Python writes them, or the same as strings).
    case nonFiniteReward(command: String, batch: Int, index: Int, value: String)
    /// A reward is not a number or null (a string, a bool, …).
    case nonNumericReward(command: String, batch: Int, index: Int, value: String)
    /// The request cannot be written as JSON (e.g. a NaN in an example's metadata).
    case invalidRequest(command: String, batch: Int, reason: String)

    /// A one-line explanation (plus the command's last stderr lines when it died).
    public var description: String {
        switch self {
        case .cannotStart(let c, let r): return "reward command `\(c)` cannot start: \(r)"
        case .childExited(let c, let b, let t, let err):
            let tail = err.isEmpty ? " (it wrote nothing to stderr)" : "; its last stderr lines:\n" + err.map { "  | " + $0 }.joined(separator: "\n")
            return "reward command `\(c)` ended during batch \(b) without an answer: \(t)\(tail)"
        case .timeout(let c, let b, let s):
            return "reward command `\(c)` gave no answer to batch \(b) within \(formatSeconds(s)) s; it was killed (raise --reward-timeout if it is just slow)"
        case .malformedResponse(let c, let b, let l, let r):
            return "reward command `\(c)`, batch \(b): \(r) in its answer: \(l.debugDescription)"
        case .wrongID(let c, let e, let g):
            return "reward command `\(c)` answered batch \(e) with id \(g); each answer must carry its request's id"
        case .wrongCount(let c, let b, let e, let g):
            return "reward command `\(c)`, batch \(b): expected \(e) rewards, got \(g)"
        case .nonFiniteReward(let c, let b, let i, let v):
            return "reward command `\(c)`, batch \(b): non-finite reward at index \(i) (\(v))"
        case .nonNumericReward(let c, let b, let i, let v):
            return "reward command `\(c)`, batch \(b): reward at index \(i) is not a number: \(v)"
        case .invalidRequest(let c, let b, let r):
            return "reward command `\(c)`, batch \(b): cannot write the request as JSON: \(r)"
        }
    }
}

/// `1`, `0.5`, `60` — seconds without a trailing `.0`.
private func formatSeconds(_ s: Double) -> String {
    s == s.rounded() && abs(s) < 1e15 ? String(Int(s)) : String(s)
}

/// A reward computed by an external program, in any language: a long-lived child process started
/// without a shell from an argument list, sent one JSON line per batch on its stdin and answering
/// one JSON line on its stdout (protocol: docs/reward-command.md).
///
/// - The child starts on first use (or `start()`) and serves every later batch; `close()` or
///   deinit closes its stdin and kills it if it has not exited within a second.
/// - Each batch has `timeout` seconds (writing the request, computing, answering; the first batch
///   also pays the start-up).
/// - The child's stderr is passed through to ours when `forwardStderr` (the default), and its
///   last lines are always kept to show in `childExited` errors.
/// - After any error that comes from the child, the child is killed and forgotten: the next call
///   starts a fresh one (so a call never hangs on a child left in an unknown state).
/// - Calls are serialised by a lock; one child serves one call at a time.
/// - A SIGTERM, SIGINT or SIGHUP that ends this process kills the child too (for each of those
///   signals the host program has not given a disposition of its own).
public final class CommandReward: RewardFunction, @unchecked Sendable {
    /// The program and its arguments (`argv[0]` without a slash is looked up on PATH).
    public let command: [String]
    /// Seconds allowed per batch.
    public let timeout: Double
    /// Pass the child's stderr through to ours.
    public let forwardStderr: Bool

    private let lock = NSLock()
    private var child: RewardProcess?
    private var nextBatchID = 0

    /// A reward command; nothing starts until the first batch (or `start()`).
    public init(command: [String], timeout: Double = 60, forwardStderr: Bool = true) {
        self.command = command
        self.timeout = timeout
        self.forwardStderr = forwardStderr
    }

    deinit { child?.shutDown() }

    /// The command as one line for messages (truncated to 80 characters).
    public var displayCommand: String {
        let s = command.joined(separator: " ").replacingOccurrences(of: "\n", with: " ")
        return s.count <= 80 ? s : String(s.prefix(77)) + "..."
    }

    /// The running child's process id, nil when none runs.
    public var processIdentifier: Int32? { lock.withLock { child?.pid } }

    /// Starts the child now (so a missing program is reported before anything else runs).
    public func start() throws {
        try lock.withLock { _ = try runningChild() }
    }

    /// Closes the child's stdin, waits up to a second for it to exit, then kills it.
    public func close() {
        lock.withLock {
            child?.shutDown()
            child = nil
        }
    }

    /// One reward per completion, from one request/answer exchange with the child; a `null`
    /// answer is an `unscored` error (the trainer and the monitor read it through `scores`).
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        try scores(prompts: prompts, completions: completions, examples: examples).scoredTotals(prompts: prompts, completions: completions)
    }

    /// One score per completion, nil where the program answered `null` (TRL's `None`: no score
    /// for this completion), from one request/answer exchange with the child.
    public func scores(prompts: [String], completions: [String], examples: [TaskExample]) throws -> RewardScores {
        try checkRewardInputs(prompts: prompts, completions: completions, examples: examples)
        if completions.isEmpty { return RewardScores(total: []) }
        return try lock.withLock {
            let batch = nextBatchID
            nextBatchID += 1
            let request = try encodeRequest(batch: batch, prompts: prompts, completions: completions, examples: examples)
            let deadline = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, timeout) * 1e9)
            let child = try runningChild()
            do {
                switch child.exchange(request, deadline: deadline) {
                case .line(let line):
                    return RewardScores(total: try Self.parseResponse(line, batch: batch, count: completions.count, command: displayCommand))
                case .timeout:
                    throw CommandRewardError.timeout(command: displayCommand, batch: batch, seconds: timeout)
                case .ended:
                    let termination = child.waitForEnd()
                    throw CommandRewardError.childExited(command: displayCommand, batch: batch, termination: termination,
                                                         stderr: child.stderrTail())
                case .tooLong(let prefix):
                    throw CommandRewardError.malformedResponse(command: displayCommand, batch: batch, line: prefix,
                                                               reason: "a line longer than \(RewardProcess.maxLineBytes) bytes")
                }
            } catch {
                child.kill()
                self.child = nil
                throw error
            }
        }
    }

    /// The running child, started if there is none (call with the lock held).
    private func runningChild() throws -> RewardProcess {
        if let child { return child }
        let started = try RewardProcess(command: command, display: displayCommand, forwardStderr: forwardStderr)
        child = started
        return started
    }

    /// The request line (with its newline) for one batch.
    private func encodeRequest(batch: Int, prompts: [String], completions: [String], examples: [TaskExample]) throws -> [UInt8] {
        let items = completions.indices.map {
            RewardRequest.Item(prompt: prompts[$0], completion: completions[$0], reference: examples[$0].reference,
                               metadata: examples[$0].metadata, messages: examples[$0].messages)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(RewardRequest(id: batch, items: items))) + [0x0A]
        } catch {
            throw CommandRewardError.invalidRequest(command: displayCommand, batch: batch, reason: "\(error)")
        }
    }

    /// The rewards in one answer line (nil for `null`), checked against the batch id and item count.
    static func parseResponse(_ line: String, batch: Int, count: Int, command: String) throws -> [Double?] {
        func malformed(_ reason: String) -> CommandRewardError {
            let shown = line.count <= 200 ? line : String(line.prefix(200)) + "…"
            return .malformedResponse(command: command, batch: batch, line: shown, reason: reason)
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(quotingNonFiniteTokens(line).utf8))
        } catch {
            throw malformed("not valid JSON")
        }
        guard case .object(let object) = value else { throw malformed("not a JSON object") }
        guard let id = object["id"] else { throw malformed("no \"id\"") }
        guard id == .number(Double(batch)) else { throw CommandRewardError.wrongID(command: command, expected: batch, got: render(id)) }
        guard let rewardsValue = object["rewards"] else { throw malformed("no \"rewards\"") }
        guard case .array(let items) = rewardsValue else { throw malformed("\"rewards\" is not an array") }
        guard items.count == count else {
            throw CommandRewardError.wrongCount(command: command, batch: batch, expected: count, got: items.count)
        }
        return try items.enumerated().map { i, item -> Double? in
            switch item {
            case .null:
                return nil
            case .number(let x):
                guard x.isFinite else { throw CommandRewardError.nonFiniteReward(command: command, batch: batch, index: i, value: "\(x)") }
                return x
            case .string(let s) where ["NaN", "Infinity", "-Infinity"].contains(s):
                throw CommandRewardError.nonFiniteReward(command: command, batch: batch, index: i, value: s)
            default:
                throw CommandRewardError.nonNumericReward(command: command, batch: batch, index: i, value: render(item))
            }
        }
    }

    /// `line` with the bare tokens `NaN`, `Infinity` and `-Infinity` (which Python's json module
    /// writes, and strict JSON parsers reject) turned into strings, so they parse and can be
    /// reported as non-finite rewards. Text inside strings is left alone.
    static func quotingNonFiniteTokens(_ line: String) -> String {
        let bytes = Array(line.utf8)
        let tokens: [[UInt8]] = [Array("-Infinity".utf8), Array("Infinity".utf8), Array("NaN".utf8)]
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0, inString = false, escaped = false
        scan: while i < bytes.count {
            let b = bytes[i]
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
            } else if b == 0x22 {
                inString = true
            } else {
                for t in tokens where bytes[i...].starts(with: t) {
                    out.append(0x22); out.append(contentsOf: t); out.append(0x22)
                    i += t.count
                    continue scan
                }
            }
            out.append(b)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compact JSON for a value, for messages.
    private static func render(_ value: JSONValue) -> String {
        guard let data = try? JSONEncoder().encode(value) else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// One request line: `{"id": n, "items": [...]}`.
private struct RewardRequest: Encodable {
    /// One completion to score.
    struct Item: Encodable {
        let prompt: String
        let completion: String
        let reference: String?
        let metadata: [String: JSONValue]
        let messages: [ChatMessage]?

        enum CodingKeys: String, CodingKey { case prompt, completion, reference, metadata, messages }

        /// Writes `reference` as null when absent (the synthesised coder would omit it), and
        /// `messages` only for a conversational prompt.
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(prompt, forKey: .prompt)
            try c.encode(completion, forKey: .completion)
            try c.encode(reference, forKey: .reference)
            try c.encode(metadata, forKey: .metadata)
            try c.encodeIfPresent(messages, forKey: .messages)
        }
    }

    let id: Int
    let items: [Item]
}
