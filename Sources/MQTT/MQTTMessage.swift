/// An MQTT 5 user property: a name–value pair carried with a message.
public struct MQTTUserProperty: Sendable, Hashable {
    /// The name.
    public var name: String
    /// The value.
    public var value: String

    /// Creates a property.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// MQTT 5 properties a publication may carry. Ignored (and rejected with `notSupported`) on MQTT 3.1.1.
public struct MQTTPublishProperties: Sendable, Hashable {
    /// Seconds after which the broker discards the message if it has not been delivered.
    public var messageExpiry: UInt32?
    /// Application name–value pairs.
    public var userProperties: [MQTTUserProperty]

    /// Creates properties.
    public init(messageExpiry: UInt32? = nil, userProperties: [MQTTUserProperty] = []) {
        self.messageExpiry = messageExpiry
        self.userProperties = userProperties
    }

    /// Whether there is nothing to send.
    public var isEmpty: Bool { messageExpiry == nil && userProperties.isEmpty }
}

/// A message received from the broker, copied out of the library for delivery through an `AsyncSequence`.
public struct MQTTMessage: Sendable, Hashable {
    /// The topic it was published on.
    public var topic: String
    /// The payload bytes.
    public var payload: [UInt8]
    /// The QoS it was delivered with.
    public var qos: MQTTQoS
    /// Whether it was a retained message (delivered because of a new subscription).
    public var retain: Bool
    /// MQTT 5 properties that arrived with it.
    public var properties: MQTTPublishProperties

    /// Creates a message.
    public init(
        topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false,
        properties: MQTTPublishProperties = MQTTPublishProperties()
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}

/// A change in the connection, observable through ``MQTTClient/events``.
public enum MQTTConnectionEvent: Sendable, Hashable {
    /// The broker accepted the connection. `sessionPresent` is true when a persistent session was resumed.
    case connected(sessionPresent: Bool)
    /// The connection ended; `nil` when the client's owner asked for it.
    case disconnected(MQTTError?)
    /// A reconnection attempt will be made after `delay`.
    case reconnecting(attempt: Int, delay: Duration)
}

/// A handler for high-rate topics, called on the client's network thread with the topic and the payload bytes
/// as libmosquitto holds them: no copy and no task hop. The buffers are valid only during the call. Keep it
/// short and non-blocking (write into a ring buffer); never wait on the same client from inside it.
public typealias MQTTHotPathHandler =
    @Sendable (_ topic: UnsafePointer<CChar>, _ payload: UnsafeRawBufferPointer) ->
    Void
