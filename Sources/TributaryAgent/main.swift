import Agent
import Glibc
import Logging
import SystemSupport

// `tributary-agent`: the program on every device. Its command line is parsed here, without a parser library and
// without Foundation, to keep the agent's resident memory small (docs/agent.md).

let overview = """
    OVERVIEW: Learn on a device's sensor stream and take part in federated rounds over MQTT.

    Without a subcommand it runs the agent (same as `run`). The task (windows, features, model, codec) comes from
    the specification the aggregator publishes; see Configs/agent.yaml for every setting.

    USAGE: tributary-agent [run] [--config <file>] [--broker <host:port>] [--device-id <id>] [--state-dir <dir>]
           tributary-agent train --task <file> --recording <file> [--recording <file> ...]
           tributary-agent fleet --devices <n> [--config <file>] ...

    SUBCOMMANDS:
      run (default)  Run the agent.
      train          Run a task's pipeline on recordings, offline: windows, features, the online model, metrics.
      fleet          Run many devices in one process, each a full agent with its own MQTT connection.

      See 'tributary-agent <subcommand> --help' for each one's options.

    """

/// Exits with the usage error's message (code 64).
func usageFailure(_ error: UsageError, subcommand: String) -> Never {
    printError("tributary-agent: \(error)")
    printError("see 'tributary-agent \(subcommand) --help'")
    exit(64)
}

AgentSignals.install()
var arguments = CommandLine.arguments.dropFirst()
let subcommand: String
switch arguments.first {
case "run", "train", "fleet":
    subcommand = arguments.removeFirst()
case "help":
    print(overview, terminator: "")
    exit(0)
case "-h", "--help":
    print(overview, terminator: "")
    exit(0)
default:
    subcommand = "run"
}

/// Runs a subcommand; the exit code.
func runSubcommand(_ subcommand: String, _ arguments: ArraySlice<String>) async -> Int32 {
    switch subcommand {
    case "train":
        if Options.wantsHelp(arguments) {
            print(Train.help, terminator: "")
            return 0
        }
        do throws(UsageError) { return try Train(arguments).run() } catch {
            usageFailure(error, subcommand: "train")
        }
    case "fleet":
        if Options.wantsHelp(arguments) {
            print(Fleet.help, terminator: "")
            return 0
        }
        let fleet: Fleet
        do throws(UsageError) { fleet = try Fleet(arguments) } catch { usageFailure(error, subcommand: "fleet") }
        return await fleet.run()
    default:
        if Options.wantsHelp(arguments) {
            print(Run.help, terminator: "")
            return 0
        }
        let run: Run
        do throws(UsageError) { run = try Run(arguments) } catch { usageFailure(error, subcommand: "run") }
        return await run.run()
    }
}

// The subcommand runs as a detached task; this thread (the main one, whose blocked SIGTERM/SIGINT every later
// thread inherits) only waits. There is no `await` in this file, so the code above ran here, before any other
// thread started.
let chosen = (subcommand, arguments)
Task.detached { exit(await runSubcommand(chosen.0, chosen.1)) }
while true { sleep(3_600) }
