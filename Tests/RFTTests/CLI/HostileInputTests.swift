import Foundation
import Testing
@testable import RFT

/// The bad-input catalogue, run through the real binary: every case ends with one clear
/// `error:` line and exit status 1 — never a signal, a hang, or a partial silent mix — and
/// nothing written before is lost or overwritten.
@Suite struct HostileInputTests {
    /// A quick `rft train` on the demo model: few inputs and steps, one thread.
    static let quick = ["--task", "addition", "--lengths", "1-2", "--num-inputs", "32", "--monitor-num-generations", "4",
                        "--max-steps", "2", "--per-device-train-batch-size", "16", "--sft-max-steps", "2", "--eval-inputs", "8",
                        "--threads", "1", "--model", "checkpoints/addition-mislabeled.rftckpt"]

    /// Runs `arguments` and expects a clean failure whose error line contains `fragment`.
    func expectError(_ arguments: [String], _ fragment: String, shellPrefix: String? = nil, timeout: Double = 60,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try RFTBinary.run(arguments, shellPrefix: shellPrefix, timeout: timeout)
        #expect(r.failedCleanly, "\(arguments.joined(separator: " ")): \(r)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(fragment), "\(arguments.joined(separator: " ")): expected \(fragment.debugDescription) in: \(r.stderr)",
                sourceLocation: sourceLocation)
        for raw in ["NSCocoaErrorDomain", "errno", "Fatal error", "Swift/", "precondition"] {
            #expect(!r.stderr.contains(raw), "a raw \(raw) text reached the user: \(r.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test func badFlagsAndValues() throws {
        RFTBinary.expectBuilt()
        let out = makeTemporaryDirectory("bad") + "/run"
        try expectError(["train", "--beta", "-1", "--output", out], "--beta: must be ≥ 0.0, got -1.0")
        try expectError(["train", "--max-steps", "-5"], "--max-steps: must be in 0…1073741824, got -5")
        try expectError(["train", "--steps", "5"], "--steps: unknown flag; did you mean --max-steps?")
        try expectError(["train", "--learning-rate", "nan"], "--learning-rate \"nan\": expected a finite number")
        try expectError(["train", "--reward-timeout", "inf"], "--reward-timeout \"inf\": expected a finite number")
        try expectError(["train", "--reward-timeout", "0"], "--reward-timeout: must be a number of seconds")
        try expectError(["train", "--per-device-train-batch-size", "1e9"], "--per-device-train-batch-size: must be in 1…16777216")
        try expectError(["train", "--num-generations", "3"], "must be a multiple of num_generations")
        try expectError(["diagnose", "--num-generations", "1e9"], "--num-generations: must be in 2…65536")
        try expectError(["sample", "--num-generations", "1e9", "1+1"], "--num-generations: must be in 1…1048576")
        try expectError(["pretrain", "--context-length", "1e9"], "--context-length: must be in 2…65536")
        try expectError(["train", "--loss-type", "grpoo"], "did you mean grpo?")
        try expectError(["train", "--data", "x.jsonl"], "name the model to start from")
        try expectError(["eval", "--task", "nosuch"], "unknown task \"nosuch\"")
        try expectError(["eval", "--model", "checkpoints/addition-base.rftckpt", "--task", "chat-addition"], "characters the model's character-level tokenizer lacks")
        try expectError(["train", "--model", "checkpoints/addition-mislabeled.rftckpt", "--task", "chat-word-problems", "--output", out],
                        "byte-level BPE tokenizer, such as SmolLM2")
        #expect(!FileManager.default.fileExists(atPath: out), "a failed run leaves no output folder")
    }

    /// Sizes a machine cannot hold are refused up front, with the memory they would need.
    @Test func absurdSizesAreBoundedBeforeAllocation() throws {
        let dir = makeTemporaryDirectory("sizes")
        try expectError(["pretrain", "--width", "65536", "--heads", "1", "--layers", "4096", "--output", dir + "/p"], "of memory; this machine has")
        try expectError(Array(["train"] + Self.quick + ["--per-device-train-batch-size", "8000000", "--output", dir + "/t"]), "of memory; this machine has")
        let long = dir + "/long.jsonl"
        FileManager.default.createFile(atPath: long, contents: Data(("{\"prompt\": \"" + String(repeating: "a", count: 100_000) + "\", \"completion\": \"b\"}\n").utf8))
        try expectError(["pretrain", "--data", long, "--output", dir + "/l"], "above the limit of 65536")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() == ["long.jsonl"], "no output folder left behind")
    }

    /// A prompt that fits the context but whose reference does not, under the default SFT warm-up.
    @Test func aReferenceTooLongForTheWarmUp() throws {
        let dir = makeTemporaryDirectory("long-ref")
        let data = dir + "/d.jsonl"
        let lines = (0..<20).map { "{\"prompt\": \"1+\($0)\", \"completion\": \"\($0 + 1)\"}" } + ["{\"prompt\": \"1+1\", \"completion\": \"\(String(repeating: "2", count: 40))\"}"]
        FileManager.default.createFile(atPath: data, contents: Data(lines.joined(separator: "\n").utf8))
        try expectError(["train", "--model", "checkpoints/addition-mislabeled.rftckpt", "--data", data, "--output", dir + "/o"],
                        "\(data):21: prompt and completion need 46 tokens with specials; the model's context is 28")
    }

    /// CRLF files from Windows read as well as LF ones.
    @Test func crlfFilesAreRead() throws {
        let dir = makeTemporaryDirectory("crlf")
        let data = dir + "/d.jsonl", config = dir + "/c.yaml"
        FileManager.default.createFile(atPath: data, contents: Data((0..<8).map { "{\"prompt\": \"1+\($0)\", \"completion\": \"\($0 + 1)\"}\r\n" }.joined().utf8))
        FileManager.default.createFile(atPath: config, contents: Data("model_name_or_path: checkpoints/addition-base.rftckpt\r\ndata: \(data)\r\nthreads: 1\r\n".utf8))
        let r = try RFTBinary.run(["eval", "--config", config, "--json"])
        #expect(r.succeeded, "\(r)")
        let report = try JSONDecoder.snakeCase.decode(EvalReport.self, from: Data(r.stdout.utf8))
        #expect(report.numExamples == 8 && report.accuracy > 0.5 && report.splits.count == 1, "\(r.stdout)")
        #expect(r.stdout.contains("\"accuracy\":") && r.stdout.contains("\"num_examples\":8") && r.stdout.contains("\"splits\":"))
    }

    /// Files that are not regular files are refused at once instead of blocking, and folders
    /// and missing files get words, not error codes.
    @Test func fifosFoldersAndMissingFiles() throws {
        let dir = makeTemporaryDirectory("fifo")
        let fifo = dir + "/x.rftckpt"
        #expect(mkfifo(fifo, 0o644) == 0)
        try expectError(["eval", "--model", fifo], "is a FIFO (named pipe), not a regular file", timeout: 20)
        try expectError(["eval", "--model", "checkpoints/addition-base.rftckpt", "--data", fifo], "is a FIFO (named pipe), not a regular file", timeout: 20)
        try expectError(["train", "--config", fifo], "is a FIFO (named pipe), not a regular file", timeout: 20)
        try expectError(["eval", "--model", "checkpoints/addition-base.rftckpt", "--data", dir], "is a folder, not a file")
        try expectError(["eval", "--model", dir + "/missing.rftckpt"], "no such file or folder")
        let file = dir + "/plain"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        try expectError(["train"] + Self.quick + ["--output", file], "exists and is not a folder")
        let truncated = dir + "/t.rftckpt"
        FileManager.default.createFile(atPath: truncated, contents: Data(readBytes(RFTBinary.root + "/checkpoints/addition-base.rftckpt").prefix(5000)))
        try expectError(["eval", "--model", truncated], "truncated checkpoint")
    }

    /// A write past the file-size limit (a full disk's cousin) is an error naming the file, not a SIGXFSZ.
    @Test func aFullDiskIsAnError() throws {
        let dir = makeTemporaryDirectory("full")
        try expectError(["train"] + Self.quick + ["--output", dir + "/o"], "file too large", shellPrefix: "ulimit -f 64;")
        let r = try RFTBinary.run(["train"] + Self.quick + ["--output", dir + "/o", "--resume"])  // the folder is usable afterwards
        #expect(r.succeeded, "\(r)")
    }

    /// A reward that always gives 0, and one that always gives 1: empty groups in the table are —, not NaN.
    @Test func emptyGroupsInTheTable() throws {
        let dir = makeTemporaryDirectory("empty")
        for (name, value) in [("zero", 0), ("one", 1)] {
            let script = dir + "/\(name).sh"
            FileManager.default.createFile(atPath: script, contents: Data("""
                #!/bin/sh
                while read -r line; do
                  id=$(printf '%s' "$line" | sed 's/^{"id":\\([0-9]*\\).*/\\1/')
                  n=$(printf '%s' "$line" | grep -o '"completion"' | wc -l)
                  r=$(yes \(value) | head -n "$n" | paste -sd, -)
                  printf '{"id":%s,"rewards":[%s]}\\n' "$id" "$r"
                done
                """.utf8), attributes: [.posixPermissions: 0o755])
            let r = try RFTBinary.run(["train"] + Self.quick + ["--reward-cmd", script, "--output", dir + "/" + name])
            #expect(r.succeeded, "\(name): \(r)")
            #expect(r.stdout.contains("—") && !r.stdout.lowercased().contains("nan"), "\(name): \(r.stdout)")
        }
        // a dataset without references: no warm-up, completions of up to 32 tokens, no held-out accuracy
        let data = dir + "/noref.jsonl"
        FileManager.default.createFile(atPath: data, contents: Data((1...12).map { "{\"prompt\": \"\($0)+\($0)\"}\n" }.joined().utf8))
        let r = try RFTBinary.run(["train", "--model", "checkpoints/addition-base.rftckpt", "--data", data, "--reward-cmd", dir + "/zero.sh",
                                   "--max-steps", "1", "--per-device-train-batch-size", "16", "--threads", "1", "--output", dir + "/noref"])
        #expect(r.succeeded && r.stdout.contains("no SFT warm-up runs") && r.stdout.contains("greedy accuracy column stays empty"), "\(r)")
    }

    /// The reward command's arguments may start with a dash; a missing program stops the run
    /// before any work and leaves no folder.
    @Test func rewardCommands() throws {
        let dir = makeTemporaryDirectory("reward")
        let r = try RFTBinary.run(["train"] + Self.quick + ["--reward-cmd", "python3", "-u", "examples/reward_match.py", "--output", dir + "/ok"])
        #expect(r.succeeded, "\(r)")
        try expectError(["train"] + Self.quick + ["--reward-cmd", "/nonexistent/reward", "--output", dir + "/missing"], "cannot start")
        #expect(!FileManager.default.fileExists(atPath: dir + "/missing"))
        let liar = dir + "/liar.sh"
        FileManager.default.createFile(atPath: liar, contents: Data("#!/bin/sh\nwhile read -r l; do echo '{\"id\":0,\"rewards\":[NaN]}'; done\n".utf8),
                                       attributes: [.posixPermissions: 0o755])
        try expectError(["train"] + Self.quick + ["--reward-cmd", liar, "--output", dir + "/liar"], "reward command")
    }

    /// Output folders: a second run, a second process and a resume with other settings are refused.
    @Test func outputFoldersAreNeverMixed() throws {
        let dir = makeTemporaryDirectory("folders")
        let first = try RFTBinary.run(["diagnose", "--model", "checkpoints/addition-base.rftckpt", "--task", "addition", "--lengths", "1-2",
                                       "--num-inputs", "16", "--num-generations", "4", "--threads", "1", "--output", dir + "/d"])
        #expect(first.succeeded, "\(first)")
        let before = readBytes(dir + "/d/inputs.jsonl")
        try expectError(["diagnose", "--model", "checkpoints/addition-base.rftckpt", "--output", dir + "/d"], "already holds a run")
        #expect(readBytes(dir + "/d/inputs.jsonl") == before, "the earlier diagnosis is untouched")

        let train = try RFTBinary.run(["train"] + Self.quick + ["--output", dir + "/t"])
        #expect(train.succeeded, "\(train)")
        try expectError(["train"] + Self.quick + ["--output", dir + "/t", "--resume", "--learning-rate", "1e-4"],
                        "was written with other settings (learning_rate: 5e-05 → 0.0001)")
        try expectError(["train"] + Self.quick + ["--output", dir + "/t"], "already holds a run; pass --resume")

        // a run in progress holds the folder: a second --resume is refused at once
        let p = Process()
        p.executableURL = URL(fileURLWithPath: RFTBinary.path)
        p.currentDirectoryURL = URL(fileURLWithPath: RFTBinary.root)
        p.arguments = ["train", "--output", dir + "/busy", "--threads", "1", "--num-inputs", "2000", "--monitor-num-generations", "64"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) }; p.waitUntilExit() }
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: dir + "/busy/config.yaml") && Date() < deadline { usleep(10_000) }
        try expectError(["train", "--output", dir + "/busy", "--resume"], "is in use by another rft process (pid \(p.processIdentifier))")
    }

    /// SIGTERM ends rft and its reward process; the child is not left behind.
    @Test func sigtermTakesTheRewardProcessAlong() throws {
        let dir = makeTemporaryDirectory("term")
        let pidFile = dir + "/pid"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: RFTBinary.path)
        p.currentDirectoryURL = URL(fileURLWithPath: RFTBinary.root)
        p.arguments = ["train"] + Self.quick + ["--output", dir + "/o", "--reward-cmd", "/bin/sh", "-c", "echo $$ > \(pidFile); exec sleep 1000"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(30)
        while (try? RegularFile.read(pidFile, limit: 64))?.isEmpty ?? true, Date() < deadline { usleep(10_000) }
        let child = Int32(String(decoding: (try? RegularFile.read(pidFile, limit: 64)) ?? [], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(child > 0, "the reward process never started")
        // rft registers the child right after spawning it; a signal inside that window (the child
        // already runs, rft's thread not yet scheduled — seen once under a load of 4 on 2 cores)
        // would find it unregistered. This test is about the registered child: give rft the moment.
        usleep(300_000)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGTERM)
        var gone = false
        for _ in 0..<200 where !gone { gone = kill(child, 0) != 0; if !gone { usleep(10_000) } }
        if !gone { kill(child, SIGKILL) }
        #expect(gone, "the reward process \(child) outlived rft")
    }
}
