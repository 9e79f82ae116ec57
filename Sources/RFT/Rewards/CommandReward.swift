import Foundation
import Glibc

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
    /// A reward is not a number (a string, a bool, null, …).
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
public final class CommandReward: RewardFunction, @unchecked Sendable {
    /// The program and its arguments (`argv[0]` without a slash is looked up on PATH).
    public let command: [String]
    /// Seconds allowed per batch.
    public let timeout: Double
    /// Pass the child's stderr through to ours.
    public let forwardStderr: Bool

    private let lock = NSLock()
    private var child: RewardChild?
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

    /// One reward per completion, from one request/answer exchange with the child.
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        try checkRewardInputs(prompts: prompts, completions: completions, examples: examples)
        if completions.isEmpty { return [] }
        return try lock.withLock {
            let batch = nextBatchID
            nextBatchID += 1
            let request = try encodeRequest(batch: batch, prompts: prompts, completions: completions, examples: examples)
            let deadline = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, timeout) * 1e9)
            let child = try runningChild()
            do {
                switch child.exchange(request, deadline: deadline) {
                case .line(let line):
                    return try Self.parseResponse(line, batch: batch, count: completions.count, command: displayCommand)
                case .timeout:
                    throw CommandRewardError.timeout(command: displayCommand, batch: batch, seconds: timeout)
                case .ended:
                    let termination = child.waitForEnd()
                    throw CommandRewardError.childExited(command: displayCommand, batch: batch, termination: termination,
                                                         stderr: child.stderrTail())
                case .tooLong(let prefix):
                    throw CommandRewardError.malformedResponse(command: displayCommand, batch: batch, line: prefix,
                                                               reason: "a line longer than \(RewardChild.maxLineBytes) bytes")
                }
            } catch {
                child.kill()
                self.child = nil
                throw error
            }
        }
    }

    /// The running child, started if there is none (call with the lock held).
    private func runningChild() throws -> RewardChild {
        if let child { return child }
        let started = try RewardChild(command: command, display: displayCommand, forwardStderr: forwardStderr)
        child = started
        return started
    }

    /// The request line (with its newline) for one batch.
    private func encodeRequest(batch: Int, prompts: [String], completions: [String], examples: [TaskExample]) throws -> [UInt8] {
        let items = completions.indices.map {
            RewardRequest.Item(prompt: prompts[$0], completion: completions[$0], reference: examples[$0].reference,
                               metadata: examples[$0].metadata)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(RewardRequest(id: batch, items: items))) + [0x0A]
        } catch {
            throw CommandRewardError.invalidRequest(command: displayCommand, batch: batch, reason: "\(error)")
        }
    }

    /// The rewards in one answer line, checked against the batch id and item count.
    static func parseResponse(_ line: String, batch: Int, count: Int, command: String) throws -> [Double] {
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
        return try items.enumerated().map { i, item in
            switch item {
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

        enum CodingKeys: String, CodingKey { case prompt, completion, reference, metadata }

        /// Writes `reference` as null when absent (the synthesised coder would omit it).
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(prompt, forKey: .prompt)
            try c.encode(completion, forKey: .completion)
            try c.encode(reference, forKey: .reference)
            try c.encode(metadata, forKey: .metadata)
        }
    }

    let id: Int
    let items: [Item]
}

/// A started reward process and our ends of its three pipes. The exchange is one thread's
/// poll loop: it writes the request (non-blocking) while draining stdout and stderr, so neither
/// side can block the other however large the batch, and the deadline bounds every wait.
private final class RewardChild {
    /// Longest answer line accepted (a child that never writes a newline cannot exhaust memory).
    static let maxLineBytes = 64 << 20
    /// Bytes of stderr kept for error messages.
    static let stderrKeep = 8192

    /// The outcome of one exchange.
    enum Outcome {
        case line(String)
        case ended
        case timeout
        case tooLong(prefix: String)
    }

    let process: Process
    let pid: Int32
    let forwardStderr: Bool
    private var stdinFD: Int32
    private var stdoutFD: Int32
    private var stderrFD: Int32
    private var stdoutBuffer: [UInt8] = []
    private var stderrBuffer: [UInt8] = []
    private var stdoutEOF = false
    private var stderrEOF = false

    /// Starts `command` (resolving argv[0] on PATH) with its stdio on fresh pipes.
    init(command: [String], display: String, forwardStderr: Bool) throws {
        guard let program = command.first, !program.isEmpty else {
            throw CommandRewardError.cannotStart(command: display, reason: "the command is empty")
        }
        let path = try Self.resolve(program, display: display)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = Array(command.dropFirst())
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw CommandRewardError.cannotStart(command: display, reason: "\(path): \(error.localizedDescription)")
        }
        self.process = process
        self.pid = process.processIdentifier
        self.forwardStderr = forwardStderr
        // Our own close-on-exec copies, so later children do not inherit them (a child holding
        // our stdin's write end would never see end-of-file).
        stdinFD = fcntl(input.fileHandleForWriting.fileDescriptor, F_DUPFD_CLOEXEC, 3)
        stdoutFD = fcntl(output.fileHandleForReading.fileDescriptor, F_DUPFD_CLOEXEC, 3)
        stderrFD = fcntl(errors.fileHandleForReading.fileDescriptor, F_DUPFD_CLOEXEC, 3)
        for handle in [input.fileHandleForWriting, output.fileHandleForReading, errors.fileHandleForReading] {
            try? handle.close()
        }
        for fd in [stdinFD, stdoutFD, stderrFD] where fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        if stdinFD < 0 || stdoutFD < 0 || stderrFD < 0 {
            kill()
            throw CommandRewardError.cannotStart(command: display, reason: "cannot duplicate pipe descriptors (errno \(errno))")
        }
    }

    deinit { closeDescriptors() }

    /// The executable `program` names: itself when it holds a slash, else the first match on PATH.
    static func resolve(_ program: String, display: String) throws -> String {
        if program.contains("/") {
            guard access(program, X_OK) == 0 else {
                let reason = access(program, F_OK) == 0 ? "\(program) is not executable" : "no such file: \(program)"
                throw CommandRewardError.cannotStart(command: display, reason: reason)
            }
            return program
        }
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + program
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw CommandRewardError.cannotStart(command: display, reason: "'\(program)' not found on PATH")
    }

    /// Writes `request` and returns the first non-blank line the child answers after it, or why not.
    func exchange(_ request: [UInt8], deadline: UInt64) -> Outcome {
        var written = 0
        var writing = true
        while true {
            if !writing, let line = takeLine() { return .line(line) }
            if stdoutBuffer.count > Self.maxLineBytes {
                return .tooLong(prefix: String(decoding: stdoutBuffer.prefix(200), as: UTF8.self))
            }
            if stdoutEOF { return .ended }
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { return .timeout }
            let waitMS = Int32(min(UInt64(Int32.max), (deadline - now + 999_999) / 1_000_000))

            var fds = [pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)]
            if !stderrEOF { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            if writing { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), waitMS)
            if ready < 0 {
                if errno == EINTR { continue }
                return .ended
            }
            for p in fds where p.revents != 0 {
                if p.fd == stdoutFD {
                    if readAvailable(stdoutFD, into: &stdoutBuffer) == nil { stdoutEOF = true }
                } else if p.fd == stderrFD {
                    drainStderr()
                } else if p.fd == stdinFD {
                    let n = request.withUnsafeBytes { writeIgnoringSIGPIPE(stdinFD, $0.baseAddress! + written, request.count - written) }
                    if n > 0 {
                        written += n
                        if written == request.count { writing = false }
                    } else if n < 0, errno != EAGAIN, errno != EINTR {
                        writing = false  // the child closed its stdin (EPIPE): wait for its exit on stdout
                    }
                }
            }
        }
    }

    /// After end-of-file on stdout: collects the rest of stderr and the exit status (a second at most).
    func waitForEnd() -> ChildTermination {
        let deadline = DispatchTime.now().uptimeNanoseconds + 1_000_000_000
        while !stderrEOF, DispatchTime.now().uptimeNanoseconds < deadline {
            var p = pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 50) > 0 { drainStderr() }
        }
        while process.isRunning, DispatchTime.now().uptimeNanoseconds < deadline { usleep(2_000) }
        if process.isRunning { return .closedOutput }
        return process.terminationReason == .exit ? .exited(process.terminationStatus) : .signaled(process.terminationStatus)
    }

    /// The last (up to 10) non-blank lines the child wrote to stderr.
    func stderrTail() -> [String] {
        let text = String(decoding: stderrBuffer, as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.allSatisfy(\.isWhitespace) }
        return Array(lines.suffix(10))
    }

    /// Kills the child (and its process group when it leads one) and closes our pipe ends.
    func kill() {
        if process.isRunning {
            if getpgid(pid) == pid { _ = Glibc.kill(-pid, SIGKILL) }
            _ = Glibc.kill(pid, SIGKILL)
        }
        closeDescriptors()
    }

    /// Closes the child's stdin (its cue to exit), waits up to a second, then kills it.
    func shutDown() {
        if stdinFD >= 0 { Glibc.close(stdinFD); stdinFD = -1 }
        let deadline = DispatchTime.now().uptimeNanoseconds + 1_000_000_000
        while process.isRunning, DispatchTime.now().uptimeNanoseconds < deadline {
            if stderrFD >= 0 { drainStderr() }
            usleep(2_000)
        }
        kill()
    }

    private func closeDescriptors() {
        for fd in [stdinFD, stdoutFD, stderrFD] where fd >= 0 { Glibc.close(fd) }
        stdinFD = -1; stdoutFD = -1; stderrFD = -1
    }

    /// Reads what stderr holds now, forwarding it and keeping the tail.
    private func drainStderr() {
        var chunk: [UInt8] = []
        if readAvailable(stderrFD, into: &chunk) == nil { stderrEOF = true }
        guard !chunk.isEmpty else { return }
        if forwardStderr {
            chunk.withUnsafeBytes { raw in
                var off = 0
                while off < raw.count {
                    let n = write(STDERR_FILENO, raw.baseAddress! + off, raw.count - off)
                    if n <= 0 { break }
                    off += n
                }
            }
        }
        stderrBuffer.append(contentsOf: chunk)
        if stderrBuffer.count > Self.stderrKeep { stderrBuffer.removeFirst(stderrBuffer.count - Self.stderrKeep) }
    }

    /// Appends what `fd` holds now to `buffer`; nil at end-of-file (or a read error).
    private func readAvailable(_ fd: Int32, into buffer: inout [UInt8]) -> Int? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n > 0 { buffer.append(contentsOf: chunk[..<n]); return n }
        if n < 0, errno == EAGAIN || errno == EINTR { return 0 }
        return nil
    }

    /// The next non-blank complete line in the stdout buffer, removed from it.
    private func takeLine() -> String? {
        while let newline = stdoutBuffer.firstIndex(of: 0x0A) {
            let line = String(decoding: stdoutBuffer[..<newline], as: UTF8.self)
            stdoutBuffer.removeFirst(newline + 1)
            if !line.allSatisfy(\.isWhitespace) { return line }
        }
        return nil
    }
}

/// `write(2)` that reports a closed pipe as EPIPE without letting SIGPIPE kill the process:
/// SIGPIPE is blocked in this thread for the call and a SIGPIPE it raised is consumed, so the
/// process-wide signal disposition is left as the host program set it.
private func writeIgnoringSIGPIPE(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    var pipeSet = sigset_t(), oldMask = sigset_t(), pending = sigset_t()
    sigemptyset(&pipeSet)
    sigaddset(&pipeSet, SIGPIPE)
    sigpending(&pending)
    let wasPending = sigismember(&pending, SIGPIPE) == 1
    pthread_sigmask(SIG_BLOCK, &pipeSet, &oldMask)
    let n = write(fd, bytes, count)
    let writeErrno = errno
    if n < 0, writeErrno == EPIPE, !wasPending {
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        _ = sigtimedwait(&pipeSet, nil, &zero)
    }
    pthread_sigmask(SIG_SETMASK, &oldMask, nil)
    errno = writeErrno
    return n
}
