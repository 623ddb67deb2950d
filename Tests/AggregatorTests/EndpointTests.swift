import Foundation
import Glibc
import Testing
import TributaryTestSupport

/// The status endpoint at start-up and under descriptor exhaustion, in the real executable.
@Suite(.serialized) struct EndpointTests {
    @Test("an HTTP port already taken fails start-up with a clear error (exit 1), instead of running without it")
    func portTaken() async throws {
        try await withBroker { broker in
            let directory = temporaryDirectory()
            // A listener holds the port.
            let holder = try #require(listenLoopback())
            defer { close(holder.fd) }
            let port = holder.port
            let aggregator = try AggregatorProcess(
                yaml: aggregatorYAML(
                    port: broker.port, stateDir: directory + "/state", httpPort: port, minParticipants: 1),
                directory: directory)
            #expect(await aggregator.process.waitForExit(timeout: .seconds(60)) == 1, "\(aggregator.output)")
            #expect(aggregator.output.contains("cannot listen on 127.0.0.1:\(port) (is the port taken?)"))
        }
    }

    @Test("out of descriptors, the endpoint counts the accept error and listens again when they are back")
    func acceptErrors() async throws {
        try await withBroker { broker in
            let directory = temporaryDirectory()
            let httpPort = try FreePort.pick()
            let config = directory + "/aggregator.yaml"
            try aggregatorYAML(
                port: broker.port, stateDir: directory + "/state", httpPort: httpPort, minParticipants: 1,
                duration: 600
            ).write(toFile: config, atomically: true, encoding: .utf8)
            // Few descriptors: a burst of connections exhausts them.
            // Descriptors the test runner left open are closed first, so the limit means the same in any run.
            let script = """
                for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null; done
                ulimit -n 48 && exec \(aggregatorBinary) --config \(config)
                """
            let process = try ChildProcess("/bin/bash", ["-c", script], standardOutput: directory + "/aggregator.log")
            defer { process.send(SIGKILL) }
            let log = { (try? String(contentsOfFile: directory + "/aggregator.log", encoding: .utf8)) ?? "" }
            // The endpoint starts beside the rounds: flood it only once the rounds are up (their start writes files).
            #expect(await eventually(timeout: .seconds(60)) { log().contains("round 1 announced") }, "\(log())")
            #expect(await eventually(timeout: .seconds(60)) { httpGet(port: httpPort, path: "/status")?.0 == 200 })
            let held = (0..<80).compactMap { _ in connectLoopback(port: httpPort) }
            #expect(await eventually(timeout: .seconds(30)) { log().contains("listening again") }, "\(log())")
            for fd in held { close(fd) }
            #expect(process.isRunning, "the aggregator keeps running: \(log())")
            #expect(
                await eventually(timeout: .seconds(60)) {
                    guard let metrics = httpGet(port: httpPort, path: "/metrics"), metrics.0 == 200 else {
                        return false
                    }
                    return metrics.1.split(separator: "\n").contains { line in
                        line.hasPrefix("tributary_http_errors_total ") && !line.hasSuffix(" 0")
                    }
                }, "\(log())")
        }
    }
}
