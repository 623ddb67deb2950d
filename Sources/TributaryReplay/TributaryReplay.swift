import ArgumentParser

/// `tributary-replay`: record sensor topics to files, play files into MQTT, inspect and convert recordings.
@main
struct TributaryReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-replay",
        abstract: "Record, play back, inspect and convert Tributary sensor recordings.",
        discussion: """
            A recording (.trec) holds one or more sensor streams: metadata, zstd-compressed chunks of frames \
            with time ranges and checksums, label events, and an index for seeking by time \
            (docs/recording-format.md).

            Exit codes: 0 success; 2 a file is missing or cannot be read or written; 3 the input is corrupt or \
            not in the expected format; 4 the broker cannot be reached; 64 bad arguments.
            """,
        subcommands: [Record.self, Play.self, Inspect.self, Convert.self, Cat.self, Generate.self]
    )
}
