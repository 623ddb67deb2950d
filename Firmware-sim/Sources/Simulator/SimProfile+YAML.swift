import Configuration
import Documents
public import SimulatorCore

extension SimProfile {
    /// Reads a profile from YAML text, then validates it.
    public static func parse(yaml: String) throws -> SimProfile {
        let tree = try YAMLParser.parse(yaml)
        let profile = try YAMLConfiguration.decode(SimProfile.self, from: tree, source: "profile", snakeCaseKeys: false)
        try profile.validate()
        return profile
    }

    /// Reads a profile from a YAML file.
    public static func load(path: String) throws -> SimProfile {
        try parse(yaml: YAMLConfiguration.read(path))
    }
}
