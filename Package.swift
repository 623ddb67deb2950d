// swift-tools-version:6.1
import PackageDescription

// Tributary: federated learning for fleets of small devices that see fast sensor streams.
// Layering (dependencies point down only):
//   executables → services → protocol → codecs → core (pure: no Foundation, no I/O);
//   services and codecs also use the wrappers (MQTT, Zstd, SQLite, POSIX) → C libraries. See docs/architecture.md.

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Tributary",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Zstd", targets: ["Zstd"]),
        .library(name: "MQTT", targets: ["MQTT"]),
        .library(name: "StreamCore", targets: ["StreamCore"]),
        .library(name: "SensorFrames", targets: ["SensorFrames"]),
        .library(name: "OnlineLearning", targets: ["OnlineLearning"]),
        .library(name: "UpdateCodec", targets: ["UpdateCodec"]),
        .library(name: "Recording", targets: ["Recording"]),
        .library(name: "Federation", targets: ["Federation"]),
        .executable(name: "tributary-replay", targets: ["TributaryReplay"]),
        .executable(name: "tributary-aggregator", targets: ["TributaryAggregator"]),
        .executable(name: "tributary-agent", targets: ["TributaryAgent"]),
        .executable(name: "tributary-bench", targets: ["TributaryBench"]),
        .executable(name: "tributary-sim", targets: ["TributarySim"]),
        .executable(name: "tributary", targets: ["TributaryCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // MARK: C libraries (Debian packages, never exported as products)
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),

        // MARK: Wrappers
        .target(name: "Zstd", dependencies: ["CZstd"], swiftSettings: strict),
        // Keys, signatures and certificates (OpenSSL's libcrypto, which libmosquitto loads anyway).
        .target(name: "Trust", dependencies: ["CCrypto", "TributaryWire"], swiftSettings: strict),
        .target(name: "Sodium", dependencies: ["CSodium", "TributaryWire"], swiftSettings: strict),
        .target(
            name: "MQTT",
            dependencies: ["CMosquitto", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // MARK: Documents: YAML and JSON text (libyaml) ⇄ values ⇄ Codable types, without Foundation
        .target(name: "Documents", dependencies: ["CYAML", "TributaryWire"], swiftSettings: strict),

        // MARK: Core (pure: standard library and Synchronization only, no Foundation, no I/O)
        .target(name: "TributaryWire", swiftSettings: strict),
        .target(name: "TributaryMath", swiftSettings: strict),
        .target(name: "StreamCore", dependencies: ["TributaryWire", "TributaryMath"], swiftSettings: strict),
        .target(name: "OnlineLearning", dependencies: ["TributaryWire", "TributaryMath"], swiftSettings: strict),

        // MARK: Codecs
        .target(name: "SensorFrames", dependencies: ["StreamCore", "TributaryWire"], swiftSettings: strict),
        .target(name: "UpdateCodec", dependencies: ["Zstd", "TributaryWire", "TributaryMath"], swiftSettings: strict),
        .target(name: "Recording", dependencies: ["Zstd", "TributaryWire"], swiftSettings: strict),
        .target(name: "CSVCodec", dependencies: ["Recording", "TributaryWire"], swiftSettings: strict),
        .target(
            name: "Inspection", dependencies: ["SensorFrames", "StreamCore", "UpdateCodec", "TributaryWire"],
            swiftSettings: strict),

        // MARK: Protocol
        .target(
            name: "Federation",
            dependencies: [
                "OnlineLearning", "UpdateCodec", "StreamCore", "Documents", "TributaryWire", "TributaryMath",
            ],
            swiftSettings: strict),

        // MARK: Services
        .target(name: "SystemSupport", swiftSettings: strict),
        .target(name: "Configuration", dependencies: ["Documents", "SystemSupport"], swiftSettings: strict),
        .target(
            name: "BrokerConnection", dependencies: ["MQTT", "Configuration", "SystemSupport"], swiftSettings: strict),
        .target(
            name: "BrokerCommandLine",
            dependencies: [
                "BrokerConnection", "Configuration", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .target(
            name: "AggregatorService",
            dependencies: [
                "Configuration", "SystemSupport", "BrokerConnection", "Federation", "UpdateCodec", "OnlineLearning",
                "MQTT", "Recording", "SensorFrames",
                "StreamCore",
                "Documents", "Trust", "Sodium", "TributaryWire",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .target(
            name: "Agent",
            dependencies: [
                "Configuration", "SystemSupport", "BrokerConnection", "Federation", "UpdateCodec", "OnlineLearning",
                "StreamCore",
                "SensorFrames", "MQTT",
                "Recording", "Documents", "Trust", "TributaryWire",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "Replay",
            dependencies: [
                "Recording", "CSVCodec", "MQTT", "BrokerConnection", "SensorFrames", "StreamCore", "TributaryWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),

        .target(
            name: "Provisioning", dependencies: ["Trust", "Federation", "SystemSupport"], swiftSettings: strict),

        // MARK: Firmware simulator (Firmware-sim/)
        .target(
            name: "SimulatorCore", dependencies: ["SensorFrames", "TributaryMath"],
            path: "Firmware-sim/Sources/SimulatorCore",
            swiftSettings: strict),
        .target(
            name: "Simulator",
            dependencies: [
                "SimulatorCore", "SensorFrames", "Recording", "TributaryWire", "MQTT", "BrokerConnection",
                "Configuration", "SystemSupport",
                "Documents",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Firmware-sim/Sources/Simulator", swiftSettings: strict),
        .executableTarget(
            name: "TributarySim",
            dependencies: [
                "Simulator", "SimulatorCore", "BrokerCommandLine", "BrokerConnection",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Firmware-sim/Sources/TributarySim", swiftSettings: strict),

        // MARK: Executables
        .executableTarget(
            name: "TributaryAgent",
            dependencies: [
                "Agent", "BrokerConnection", "Configuration", "SystemSupport", "Federation", "Recording",
                "TributaryWire",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            // Devices have no Swift runtime installed, and a statically linked agent is also smaller in memory
            // (13.8 vs 15.6 MiB at its peak here: no dynamic symbol tables of the runtime to read).
            linkerSettings: [.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux]))]),
        .executableTarget(
            name: "TributaryAggregator",
            dependencies: [
                "AggregatorService", "Configuration", "SystemSupport", "BrokerCommandLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "TributaryReplay",
            dependencies: [
                "Replay", "Recording", "Simulator", "SimulatorCore", "MQTT", "BrokerCommandLine", "BrokerConnection",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "TributaryCLI",
            dependencies: [
                "Inspection", "TributaryWire", "Provisioning",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "TributaryBench",
            dependencies: [
                "MQTT", "Zstd", "StreamCore", "OnlineLearning", "UpdateCodec", "Recording", "Replay", "Simulator",
                "SimulatorCore", "Federation", "AggregatorService", "LocalBroker", "TributaryMath", "BrokerConnection",
                "CSVCodec", "Trust", "Sodium", "TributaryWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // MARK: A real Mosquitto on a free loopback port, for tests, benchmarks and the demo's tools
        .target(
            name: "LocalBroker", dependencies: ["MQTT", "BrokerConnection", "SystemSupport"], swiftSettings: strict),

        // MARK: Test support and tests
        .target(
            name: "TributaryTestSupport",
            dependencies: ["MQTT", "SystemSupport", "LocalBroker"],
            path: "Tests/TributaryTestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "TributaryMathTests", dependencies: ["TributaryMath"], swiftSettings: strict),
        .testTarget(name: "SystemSupportTests", dependencies: ["SystemSupport"], swiftSettings: strict),
        .testTarget(
            name: "TrustTests",
            dependencies: [
                "Trust", "Sodium", "TributaryWire", "UpdateCodec", "Federation", "Provisioning",
                "TributaryTestSupport",
            ],
            swiftSettings: strict),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd", "TributaryMath"], swiftSettings: strict),
        .testTarget(name: "DocumentsTests", dependencies: ["Documents", "TributaryWire"], swiftSettings: strict),
        .testTarget(
            name: "UpdateCodecTests", dependencies: ["TributaryMath", "UpdateCodec", "TributaryWire"],
            exclude: ["Fixtures"],
            swiftSettings: strict),
        .testTarget(
            name: "InspectionTests",
            dependencies: ["Inspection", "SensorFrames", "StreamCore", "UpdateCodec", "TributaryWire"],
            swiftSettings: strict),
        .testTarget(
            name: "OnlineLearningTests", dependencies: ["OnlineLearning", "TributaryWire", "TributaryMath"],
            swiftSettings: strict),
        .testTarget(
            name: "SimulatorTests",
            dependencies: [
                "Simulator", "SimulatorCore", "SensorFrames", "MQTT", "BrokerConnection", "TributaryTestSupport",
            ],
            path: "Firmware-sim/Tests/SimulatorTests", swiftSettings: strict),
        .testTarget(
            name: "SensorFramesTests",
            dependencies: ["SensorFrames", "StreamCore", "TributaryWire", "TributaryMath", "TributaryTestSupport"],
            resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(
            name: "StreamCoreTests",
            dependencies: ["StreamCore", "TributaryWire", "TributaryMath", "TributaryTestSupport"],
            resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(
            name: "RecordingTests", dependencies: ["TributaryMath", "Recording", "TributaryWire"],
            exclude: ["Fixtures"],
            swiftSettings: strict),
        .testTarget(
            name: "ReplayTests",
            dependencies: [
                "TributaryMath",
                "Replay", "Recording", "SensorFrames", "SimulatorCore", "MQTT", "BrokerConnection",
                "TributaryTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "FederationTests", dependencies: ["Federation", "UpdateCodec", "OnlineLearning", "TributaryMath"],
            swiftSettings: strict),
        .testTarget(
            name: "AggregatorTests",
            dependencies: [
                "TributaryMath",
                "AggregatorService", "Federation", "UpdateCodec", "MQTT", "Recording", "TributaryTestSupport", "Trust",
                "TributaryWire",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent", "Federation", "UpdateCodec", "StreamCore", "TributaryWire", "MQTT", "BrokerConnection",
                "Configuration",
                "SystemSupport",
                "TributaryTestSupport", "Provisioning", "Trust",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "BrokerConnectionTests",
            dependencies: [
                "BrokerConnection", "BrokerCommandLine", "Configuration", "Documents", "MQTT",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "MQTTTests", dependencies: ["MQTT", "TributaryMath", "TributaryTestSupport"], swiftSettings: strict),
    ]
)
