import Foundation
public import SimulatorCore
import Yams

extension SimProfile {
    /// Reads a profile from YAML text, then validates it.
    public static func parse(yaml: String) throws -> SimProfile {
        let profile = try YAMLDecoder().decode(SimProfile.self, from: yaml)
        try profile.validate()
        return profile
    }

    /// Reads a profile from a YAML file.
    public static func load(path: String) throws -> SimProfile {
        try parse(yaml: String(contentsOfFile: path, encoding: .utf8))
    }
}
