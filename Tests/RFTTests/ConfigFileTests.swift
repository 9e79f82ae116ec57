import Foundation
import Testing
@testable import RFT

/// `--config` files become flags placed before the command line's own.
struct ConfigFileTests {
    static func file(_ name: String, _ text: String) -> String {
        let path = makeTemporaryDirectory("config") + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    @Test func jsonKeysBecomeFlagsBeforeTheCommandLine() throws {
        let path = Self.file("c.json", #"{"learning_rate": 0.001, "steps": 40, "dynamic_sampling": true, "resume": false, "reward_cmd": ["python3", "r.py"], "task": "addition"}"#)
        let args = try ConfigFile.expand(["train", "--config", path, "--steps", "5"])
        #expect(args == ["train", "--dynamic-sampling", "--learning-rate", "0.001", "--reward-cmd", "python3", "r.py", "--steps", "40", "--task", "addition", "--steps", "5"])
        #expect(try ConfigFile.expand(["train", "--steps", "5"]) == ["train", "--steps", "5"])
    }

    @Test func flatYAML() throws {
        let path = Self.file("c.yaml", "# a run\nlearning-rate: 5e-5\nnum_generations: 8\nreward: 'exact-match'\nreward_cmd: [python3, r.py]\nskip_invalid: yes\n")
        #expect(try ConfigFile.expand(["sft", "--config=\(path)"]) ==
                ["sft", "--learning-rate", "5e-5", "--num-generations", "8", "--reward", "exact-match", "--reward-cmd", "python3", "r.py", "--skip-invalid"])
    }

    @Test func errorsNameTheFileAndLine() throws {
        let nested = Self.file("n.yaml", "a: 1\n  b: 2\n")
        #expect(throws: ConfigFile.Problem(description: "\(nested):2: expected `key: value` (only flat mappings are supported)")) {
            try ConfigFile.expand(["train", "--config", nested])
        }
        let bad = Self.file("b.json", "{\"a\": ")
        #expect(throws: ConfigFile.Problem(description: "\(bad): not a JSON object")) { try ConfigFile.expand(["train", "--config", bad]) }
        #expect(throws: ConfigFile.Problem.self) { try ConfigFile.expand(["train", "--config", "/nonexistent.json"]) }
        #expect(throws: ConfigFile.Problem(description: "--config needs a file")) { try ConfigFile.expand(["train", "--config"]) }
    }
}
