public import MQTT
import Synchronization

/// Consumes a client's ``MQTTClient/messages`` in a background task and keeps them for assertions.
public final class MessageCollector: Sendable {
    private let received = Locked<[MQTTMessage]>([])
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts collecting from `client`.
    public init(_ client: MQTTClient) {
        let stream = client.messages
        let consumer = Task { [received] in
            for await message in stream {
                received.withLock { $0.append(message) }
            }
        }
        task.withLock { $0 = consumer }
    }

    deinit { task.withLock { $0?.cancel() } }

    /// Everything received so far.
    public var messages: [MQTTMessage] { received.withLock { $0 } }

    /// Waits until at least `count` messages arrived (or `timeout` passed) and returns what arrived.
    public func wait(for count: Int, timeout: Duration = .seconds(10)) async -> [MQTTMessage] {
        _ = await eventually(timeout: timeout) { received.withLock { $0.count >= count } }
        return messages
    }

    /// Stops collecting.
    public func cancel() { task.withLock { $0?.cancel() } }
}
