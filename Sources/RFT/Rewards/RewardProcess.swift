import Foundation
import Glibc

/// A started reward process and our ends of its three pipes. The exchange is one thread's
/// poll loop: it writes the request (non-blocking) while draining stdout and stderr, so neither
/// side can block the other however large the batch, and the deadline bounds every wait.
final class RewardProcess {
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
        // Foundation reaps the process before it calls this: from then on its pid may be reused
        process.terminationHandler = { RewardProcessRegistry.unregister($0.processIdentifier) }
        do {
            try process.run()
        } catch {
            throw CommandRewardError.cannotStart(command: display, reason: "\(path): \(error.localizedDescription)")
        }
        self.process = process
        self.pid = process.processIdentifier
        RewardProcessRegistry.register(pid)
        if !process.isRunning { RewardProcessRegistry.unregister(pid) }  // it ended before it was registered
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
        RewardProcessRegistry.unregister(pid)
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
