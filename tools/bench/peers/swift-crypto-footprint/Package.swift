// swift-tools-version: 6.0
// Ed25519 through apple/swift-crypto (BoringSSL inside, on Linux), for `tributary-bench trust`: the time per
// signature and check, and what it adds to a process's peak memory, beside the libcrypto and libsodium peers
// (../sign_footprint.c). Its own package, so the project itself never depends on swift-crypto.
import PackageDescription

let package = Package(
    name: "SwiftCryptoFootprint",
    dependencies: [.package(url: "https://github.com/apple/swift-crypto", from: "3.12.3")],
    targets: [
        .executableTarget(
            name: "SwiftCryptoFootprint",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        )
    ]
)
