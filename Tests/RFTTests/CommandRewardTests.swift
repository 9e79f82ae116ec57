import Foundation
import Testing
@testable import RFT
import RFTModel

/// `CommandReward` against small `/bin/sh` children (no Python needed) that behave well or in
/// each of the ways a user's reward program can go wrong; plus the shipped Python example.
@Suite struct CommandRewardTests {
    /// A well-behaved child: per request line, reward 1 where the completion equals the reference
    /// (awk pulls them out of the JSON; enough for the plain strings these tests send).
    static let matchLoop = #"""
        while IFS= read -r line; do
          printf '%s\n' "$line" | awk '{
            s = $0
            match(s, /"id":[0-9]+/); id = substr(s, RSTART + 5, RLENGTH - 5)
            out = ""
            while (match(s, /"completion":"[^"]*"/)) {
              c = substr(s, RSTART + 14, RLENGTH - 15)
              s = substr(s, RSTART + RLENGTH)
              match(s, /"reference":("[^"]*"|null)/)
              r = substr(s, RSTART + 12, RLENGTH - 12)
              out = out (out == "" ? "" : ",") (r == "\"" c "\"" ? 1 : 0)
            }
            printf "{\"id\":%s,\"rewards\":[%s]}\n", id, out
          }'
        done
        """#

    /// A reward running `script` under `/bin/sh -c` (extra `arguments` become `$1`, …).
    func shell(_ script: String, _ arguments: [String] = [], timeout: Double = 5) -> CommandReward {
        CommandReward(command: ["/bin/sh", "-c", script, "sh"] + arguments, timeout: timeout, forwardStderr: false)
    }

    /// One batch: completions scored against references.
    func call(_ reward: CommandReward, _ completions: [String], _ references: [String?]) throws -> [Double] {
        let examples = references.enumerated().map { TaskExample(prompt: "p\($0.offset)", reference: $0.element, length: 1) }
        return try reward.rewards(prompts: examples.map(\.prompt), completions: completions, examples: examples)
    }

    /// The error `body` throws, which must be a `CommandRewardError`.
    func error(_ body: () throws -> Void) -> CommandRewardError? {
        do { try body() } catch let e as CommandRewardError { return e } catch { Issue.record("unexpected \(error)") }
        return nil
    }

    /// A fresh path in the temporary directory.
    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("rft-\(name)-\(UUID().uuidString)").path
    }

    /// A conversational prompt's messages go with its item (as `messages`); a text prompt's item has none.
    @Test func conversationsAreSentAsMessages() throws {
        let request = temporaryPath("request")
        defer { try? FileManager.default.removeItem(atPath: request) }
        let reward = shell(#"IFS= read -r line; printf '%s\n' "$line" > "$1"; printf '{"id":0,"rewards":[0,0]}\n'; cat > /dev/null"#, [request])
        defer { reward.close() }
        let examples = [TaskExample(prompt: "hi", reference: "ok", length: 2, messages: [ChatMessage(role: .system, content: "S"), .user("hi")]),
                        TaskExample(prompt: "plain", reference: nil, length: 5)]
        #expect(try reward.rewards(prompts: examples.map(\.prompt), completions: ["ok", "x"], examples: examples) == [0, 0])
        let line = try String(contentsOfFile: request, encoding: .utf8)
        #expect(line == #"{"id":0,"items":[{"completion":"ok","messages":[{"content":"S","role":"system"},{"content":"hi","role":"user"}],"metadata":{},"prompt":"hi","reference":"ok"},{"completion":"x","metadata":{},"prompt":"plain","reference":null}]}"# + "\n", "\(line)")
    }

    @Test func goodChildServesSeveralBatchesFromOneProcess() throws {
        let reward = shell(Self.matchLoop)
        #expect(reward.processIdentifier == nil)  // started lazily
        #expect(try call(reward, ["a", "b"], ["a", "c"]) == [1, 0])
        let pid = try #require(reward.processIdentifier)
        #expect(try call(reward, ["x", "y", "z"], ["x", nil, "z"]) == [1, 0, 1])
        #expect(try call(reward, [], []) == [])
        #expect(try call(reward, ["42"], ["41"]) == [0])
        #expect(reward.processIdentifier == pid)
        reward.close()
        #expect(reward.processIdentifier == nil)
        #expect(try call(reward, ["q"], ["q"]) == [1])  // a new child after close()
        #expect(reward.processIdentifier != pid)
    }

    /// The exact request line: sorted keys, a null reference, metadata, a newline escaped in a string.
    @Test func requestLineIsOneJSONObjectPerBatch() throws {
        let file = temporaryPath("request")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let reward = shell(#"IFS= read -r line; printf '%s\n' "$line" > "$1"; echo '{"id":0,"rewards":[0.25]}'"#, [file])
        let example = TaskExample(prompt: "p\nq", reference: nil, length: 1, metadata: ["k": .string("v"), "n": .number(2)])
        #expect(try reward.rewards(prompts: ["p\nq"], completions: ["a/\"b\""], examples: [example]) == [0.25])
        #expect(try String(contentsOfFile: file, encoding: .utf8)
            == #"{"id":0,"items":[{"completion":"a/\"b\"","metadata":{"k":"v","n":2},"prompt":"p\nq","reference":null}]}"# + "\n")
    }

    /// A request far larger than a pipe buffer, to a child that first floods its stderr: the
    /// reward must drain stderr while it writes, or both sides block until the timeout.
    @Test func largeBatchWithNoisyStderrDoesNotDeadlock() throws {
        let reward = shell("head -c 300000 /dev/zero | tr '\\0' x >&2; echo >&2 done-flooding\n" + Self.matchLoop, timeout: 20)
        let n = 600
        let completions = (0..<n).map { String(repeating: "c", count: 150) + String($0) }
        let references = (0..<n).map { $0 % 3 == 0 ? completions[$0] : "other" }
        let start = Date()
        #expect(try call(reward, completions, references) == (0..<n).map { $0 % 3 == 0 ? 1 : 0 })
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func crashMidRunIsChildExitedWithItsStderr() throws {
        let script = #"""
            IFS= read -r line; echo '{"id":0,"rewards":[1]}'
            IFS= read -r line; echo 'loading model...' >&2; echo 'boom: cannot score batch' >&2; exit 3
            """#
        let reward = shell(script)
        #expect(try call(reward, ["a"], ["a"]) == [1])
        let pid = reward.processIdentifier
        let e = error { _ = try call(reward, ["a"], ["a"]) }
        #expect(e == .childExited(command: reward.displayCommand, batch: 1, termination: .exited(3),
                                  stderr: ["loading model...", "boom: cannot score batch"]))
        #expect(e?.description.contains("exit status 3") == true)
        #expect(e?.description.contains("  | boom: cannot score batch") == true)
        // The next call starts a fresh child (whose first answer carries id 0, so it is refused as batch 2).
        #expect(reward.processIdentifier == nil)
        #expect(error { _ = try call(reward, ["a"], ["a"]) } == .wrongID(command: reward.displayCommand, expected: 2, got: "0"))
        #expect(reward.processIdentifier == nil && pid != nil)
    }

    /// A child that exits without reading: writing the (pipe-sized) request meets a closed pipe,
    /// which must become this error, not a SIGPIPE that kills the test process.
    @Test func childExitingBeforeReadingIsChildExited() {
        let reward = shell("echo 'usage: reward.py MODEL' >&2; exit 2")
        let big = [String](repeating: String(repeating: "z", count: 1000), count: 200)
        #expect(error { _ = try call(reward, big, big) }
            == .childExited(command: reward.displayCommand, batch: 0, termination: .exited(2), stderr: ["usage: reward.py MODEL"]))
    }

    /// A child that closes its stdout but keeps running is given a second, then killed.
    @Test func closedOutputIsChildExited() {
        let reward = shell("IFS= read -r line; exec >&-; exec sleep 30")
        let start = Date()
        #expect(error { _ = try call(reward, ["a"], ["a"]) }
            == .childExited(command: reward.displayCommand, batch: 0, termination: .closedOutput, stderr: []))
        #expect(Date().timeIntervalSince(start) < 2.5)
        #expect(reward.processIdentifier == nil)
    }

    @Test func killedBySignalIsReported() {
        let reward = shell(#"IFS= read -r line; kill -9 $$"#)
        #expect(error { _ = try call(reward, ["a"], ["a"]) }
            == .childExited(command: reward.displayCommand, batch: 0, termination: .signaled(9), stderr: []))
    }

    /// A child that hangs is killed after the timeout (the test takes about a second), and the
    /// next call gets a fresh child instead of hanging too.
    @Test func hangIsATimeoutAndTheNextCallRestarts() throws {
        let flag = temporaryPath("hang")
        defer { try? FileManager.default.removeItem(atPath: flag) }
        let reward = shell("if [ ! -e \"$1\" ]; then : > \"$1\"; exec sleep 30; fi\n" + Self.matchLoop, [flag], timeout: 1)
        let start = Date()
        let e = error { _ = try call(reward, ["a"], ["a"]) }
        let elapsed = Date().timeIntervalSince(start)
        #expect(e == .timeout(command: reward.displayCommand, batch: 0, seconds: 1))
        #expect(e?.description.contains("gave no answer to batch 0 within 1 s; it was killed") == true)
        #expect(elapsed >= 0.9 && elapsed < 2.5, "took \(elapsed) s")
        #expect(try call(reward, ["a", "b"], ["a", "a"]) == [1, 0])
        #expect(Date().timeIntervalSince(start) < 3.5)
    }

    /// One misbehaving answer per case (to a two-item batch) and the typed error it must give.
    static let badAnswers: [(String, (String) -> CommandRewardError)] = [
        ("this is not json", { .malformedResponse(command: $0, batch: 0, line: "this is not json", reason: "not valid JSON") }),
        ("[1, 0]", { .malformedResponse(command: $0, batch: 0, line: "[1, 0]", reason: "not a JSON object") }),
        (#"{"rewards": [1, 0]}"#, { .malformedResponse(command: $0, batch: 0, line: #"{"rewards": [1, 0]}"#, reason: "no \"id\"") }),
        (#"{"id": 0, "rewards": 1}"#, { .malformedResponse(command: $0, batch: 0, line: #"{"id": 0, "rewards": 1}"#, reason: "\"rewards\" is not an array") }),
        (#"{"id": 0, "rewards": [1.0, NaN]}"#, { .nonFiniteReward(command: $0, batch: 0, index: 1, value: "NaN") }),
        (#"{"id": 0, "rewards": [Infinity, 0]}"#, { .nonFiniteReward(command: $0, batch: 0, index: 0, value: "Infinity") }),
        (#"{"id": 0, "rewards": [1, -Infinity]}"#, { .nonFiniteReward(command: $0, batch: 0, index: 1, value: "-Infinity") }),
        (#"{"id": 0, "rewards": [1, "NaN"]}"#, { .nonFiniteReward(command: $0, batch: 0, index: 1, value: "NaN") }),
        // Foundation's parser refuses a literal beyond Double's range (Python writes `Infinity` instead).
        (#"{"id": 0, "rewards": [1e999, 0]}"#, { .malformedResponse(command: $0, batch: 0, line: #"{"id": 0, "rewards": [1e999, 0]}"#, reason: "not valid JSON") }),
        (#"{"id": 0, "rewards": [1]}"#, { .wrongCount(command: $0, batch: 0, expected: 2, got: 1) }),
        (#"{"id": 0, "rewards": [1, 0, 1]}"#, { .wrongCount(command: $0, batch: 0, expected: 2, got: 3) }),
        (#"{"id": 7, "rewards": [1, 0]}"#, { .wrongID(command: $0, expected: 0, got: "7") }),
        (#"{"id": "0", "rewards": [1, 0]}"#, { .wrongID(command: $0, expected: 0, got: "\"0\"") }),
        (#"{"id": 0, "rewards": [1, "a"]}"#, { .nonNumericReward(command: $0, batch: 0, index: 1, value: "\"a\"") }),
        (#"{"id": 0, "rewards": [true, 0]}"#, { .nonNumericReward(command: $0, batch: 0, index: 0, value: "true") }),
    ]

    @Test(arguments: badAnswers.indices)
    func badAnswerGivesItsTypedError(_ index: Int) throws {
        let (answer, expected) = Self.badAnswers[index]
        // Parsing alone (fast, every case) ...
        #expect(error { _ = try CommandReward.parseResponse(answer, batch: 0, count: 2, command: "cmd") } == expected("cmd"))
        // ... and through a real child.
        let quoted = "'" + answer.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
        let reward = shell("IFS= read -r line; printf '%s\\n' \(quoted); sleep 5")
        #expect(error { _ = try call(reward, ["a", "b"], ["a", "b"]) } == expected(reward.displayCommand))
        #expect(reward.processIdentifier == nil)  // killed, not left sleeping
    }

    @Test func longGarbageLineIsShownTruncated() {
        let line = String(repeating: "x", count: 500)
        let e = error { _ = try CommandReward.parseResponse(line, batch: 4, count: 1, command: "cmd") }
        #expect(e == .malformedResponse(command: "cmd", batch: 4, line: String(repeating: "x", count: 200) + "…", reason: "not valid JSON"))
    }

    @Test func nonFiniteTokensAreQuotedOnlyOutsideStrings() {
        #expect(CommandReward.quotingNonFiniteTokens(#"{"a": "NaN \"Infinity\"", "b": [NaN, -Infinity, Infinity]}"#)
            == #"{"a": "NaN \"Infinity\"", "b": ["NaN", "-Infinity", "Infinity"]}"#)
    }

    @Test func missingProgramCannotStart() {
        let onPath = CommandReward(command: ["rft-no-such-program-3f9c"], forwardStderr: false)
        #expect(error { try onPath.start() } == .cannotStart(command: "rft-no-such-program-3f9c", reason: "'rft-no-such-program-3f9c' not found on PATH"))
        #expect(error { _ = try call(onPath, ["a"], ["a"]) } != nil)
        let withSlash = CommandReward(command: ["/nonexistent/reward", "--flag"], forwardStderr: false)
        #expect(error { _ = try call(withSlash, ["a"], ["a"]) }
            == .cannotStart(command: "/nonexistent/reward --flag", reason: "no such file: /nonexistent/reward"))
        #expect(error { try CommandReward(command: []).start() } == .cannotStart(command: "", reason: "the command is empty"))
        #expect(CommandRewardError.cannotStart(command: "x", reason: "'x' not found on PATH").description
            == "reward command `x` cannot start: 'x' not found on PATH")
    }

    /// Resolves `sh` on PATH (no slash) and runs it.
    @Test func programIsFoundOnPath() throws {
        let reward = CommandReward(command: ["sh", "-c", Self.matchLoop], forwardStderr: false)
        #expect(try call(reward, ["a"], ["a"]) == [1])
    }

    /// The shipped example, end to end (scripts/install-deps installs python3, so it is never skipped).
    @Test func shippedPythonExampleScores() throws {
        _ = try Python3Locator.python3()  // a clear failure when python3 is missing
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/reward_match.py").path
        let reward = CommandReward(command: ["python3", script], timeout: 30, forwardStderr: false)
        #expect(try call(reward, ["42", "42.0", " 7 ", "41", "abc"], ["42", "42", "7", "42", "abc"]) == [1, 1, 1, 0, 1])
        let pid = reward.processIdentifier
        #expect(try call(reward, ["x", "1e3"], [nil, "1000"]) == [0, 1])
        #expect(reward.processIdentifier == pid)
    }

    /// rft ended by SIGTERM takes its reward command along (a child blocked on its stdin would
    /// otherwise run on, orphaned). The real binary runs `rft eval` with a reward command that
    /// writes its pid and sleeps, so rft waits on it; SIGTERM must end rft, and the child must be
    /// gone (killed, at most a zombie) within two seconds. (An earlier version forked this test
    /// process: fork() in a process whose other threads are inside OpenBLAS deadlocks in
    /// OpenBLAS's atfork handler, and hung the suite once.)
    @Test func rewardCommandDiesWithUsOnSIGTERM() throws {
        RFTBinary.expectBuilt()
        let folder = makeTemporaryDirectory("sigterm")
        let pidFile = folder + "/pid", script = folder + "/sleeper.sh"
        var child: Int32?
        defer {
            if let child { _ = kill(child, SIGKILL) }  // never leave the sleeper behind
            try? FileManager.default.removeItem(atPath: folder)
        }
        FileManager.default.createFile(atPath: script, contents: Data("#!/bin/sh\necho $$ > \"$1\"\nexec sleep 300\n".utf8),
                                       attributes: [.posixPermissions: 0o755])
        let rft = Process()
        rft.executableURL = URL(fileURLWithPath: RFTBinary.path)
        rft.arguments = ["eval", "--model", "checkpoints/addition-base.rftckpt", "--task", "addition", "--eval-examples", "4",
                         "--threads", "1", "--reward-cmd", script, pidFile]
        rft.currentDirectoryURL = URL(fileURLWithPath: RFTBinary.root)
        rft.standardOutput = FileHandle.nullDevice
        rft.standardError = FileHandle.nullDevice
        try rft.run()
        let deadline = Date().addingTimeInterval(30)
        while Self.pid(inFile: pidFile) == nil, rft.isRunning, Date() < deadline { usleep(5_000) }
        child = Self.pid(inFile: pidFile)
        let pid = try #require(child, "the reward command never wrote its pid (rft running: \(rft.isRunning))")
        usleep(200_000)  // rft writes its first batch and waits for the answer
        #expect(rft.isRunning, "rft must wait for its reward command")
        kill(rft.processIdentifier, SIGTERM)
        let end = Date().addingTimeInterval(10)
        while rft.isRunning, Date() < end { usleep(10_000) }
        if rft.isRunning {
            kill(rft.processIdentifier, SIGKILL)
            Issue.record("rft did not end on SIGTERM")
        }
        rft.waitUntilExit()
        #expect(rft.terminationReason == .uncaughtSignal && rft.terminationStatus == SIGTERM,
                "rft ended with status \(rft.terminationStatus) (\(rft.terminationReason == .exit ? "exit" : "signal"))")
        let gone = Date().addingTimeInterval(2)
        while !Self.hasEnded(pid), Date() < gone { usleep(10_000) }
        #expect(Self.hasEnded(pid), "the reward command (pid \(pid)) outlived the rft that started it")
    }

    /// The pid in `path` (a line of digits), nil while it is missing or incomplete.
    static func pid(inFile path: String) -> Int32? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") else { return nil }
        return Int32(text.dropLast())
    }

    /// Whether process `pid` no longer runs: gone, or a zombie waiting for whoever adopted it.
    static func hasEnded(_ pid: Int32) -> Bool {
        if kill(pid, 0) != 0 { return errno == ESRCH }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].drop(while: { $0 == " " }).first
        return state == "Z" || state == "X"
    }
}

/// Finds python3 on PATH, as `CommandReward` finds programs.
enum Python3Locator {
    /// The path of python3, or a `cannotStart` error.
    static func python3() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/python3") {
            return "\(dir)/python3"
        }
        throw CommandRewardError.cannotStart(command: "python3", reason: "not on PATH")
    }
}
