import Foundation
import Testing
@testable import RFT

/// The `rft` executable that `swift test` builds next to the test bundle, run as a child
/// process from the repository's root (so the shipped checkpoints resolve).
enum RFTBinary {
    /// The repository.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    /// The binary.
    static var path: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("rft").path
    }

    /// How a run ended and what it printed.
    struct Result: CustomStringConvertible {
        /// The exit status, or the signal when `signaled`.
        var status: Int32
        /// Whether a signal ended it.
        var signaled: Bool
        /// Killed by the test after the timeout.
        var timedOut: Bool
        /// Standard output and error.
        var stdout: String, stderr: String

        /// Exited with status 0.
        var succeeded: Bool { !signaled && !timedOut && status == 0 }
        /// Exited (no signal, no hang) with status 1 and one `error:` line.
        var failedCleanly: Bool {
            !signaled && !timedOut && status == 1 && stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count == 1
        }

        /// For failure messages.
        var description: String {
            "status \(status)\(signaled ? " (signal)" : "")\(timedOut ? " (timed out)" : "")\nstdout: \(stdout.suffix(1500))\nstderr: \(stderr.suffix(1500))"
        }
    }

    /// Runs `rft arguments` (through `/bin/sh -c` with `shellPrefix`, e.g. `ulimit -f 40;`, when
    /// given; or the command line `launcher(binary)`, such as `mpirun -np 2 binary …`, instead),
    /// with `environment` added and the shipped checkpoints' folder as the working directory.
    static func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil, shellPrefix: String? = nil,
                    timeout: Double = 120, launcher: ((String) -> [String])? = nil) throws -> Result {
        let folder = makeTemporaryDirectory("cli-io")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let out = folder + "/out", err = folder + "/err", input = folder + "/in"
        FileManager.default.createFile(atPath: input, contents: Data((stdin ?? "").utf8))
        let p = Process()
        if let command = launcher?(path) {
            p.executableURL = URL(fileURLWithPath: command[0])
            p.arguments = Array(command.dropFirst())
        } else if let shellPrefix {
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", shellPrefix + " exec \"$0\" \"$@\"", path] + arguments
        } else {
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = arguments
        }
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.standardOutput = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: out, contents: nil); return out }())
        p.standardError = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: err, contents: nil); return err }())
        p.standardInput = FileHandle(forReadingAtPath: input)
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(5_000) }
        let timedOut = p.isRunning
        if timedOut && launcher != nil {  // a launcher is asked first, so that it stops the processes it started
            kill(p.processIdentifier, SIGTERM)
            let grace = Date().addingTimeInterval(10)
            while p.isRunning && Date() < grace { usleep(5_000) }
        }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        return Result(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal, timedOut: timedOut,
                      stdout: String(decoding: readBytes(out), as: UTF8.self), stderr: String(decoding: readBytes(err), as: UTF8.self))
    }

    /// Whether the binary is there (every CLI test checks it first, so a missing build is a failure, not a skip).
    static func expectBuilt(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(FileManager.default.isExecutableFile(atPath: path), "no rft binary at \(path)", sourceLocation: sourceLocation)
    }
}
