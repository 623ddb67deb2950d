internal import CMosquitto

extension MQTTClient {
    /// Publishes `payload` and returns once libmosquitto holds it (copied); waits for an in-flight slot first.
    ///
    /// QoS 1/2 publications made while the connection is down are kept by the library and sent after
    /// reconnecting. QoS 0 publications need a connection and fail with ``MQTTError/Code/notConnected``.
    public func publish(
        _ topic: String,
        payload: UnsafeRawBufferPointer,
        qos: MQTTQoS = .atLeastOnce,
        retain: Bool = false,
        properties: MQTTPublishProperties = MQTTPublishProperties()
    ) async throws(MQTTError) {
        guard await core.window.acquire() else { throw .shutdown("publish") }
        let mid = try send(topic, payload, qos, retain, properties)
        core.window.register(mid: mid, qos: qos.rawValue, waiter: nil)
    }

    /// Publishes `payload`; see ``publish(_:payload:qos:retain:properties:)-(_,UnsafeRawBufferPointer,_,_,_)``.
    public func publish(
        _ topic: String,
        payload: [UInt8],
        qos: MQTTQoS = .atLeastOnce,
        retain: Bool = false,
        properties: MQTTPublishProperties = MQTTPublishProperties()
    ) async throws(MQTTError) {
        guard await core.window.acquire() else { throw .shutdown("publish") }
        let mid = try withBytes(payload) { bytes throws(MQTTError) in try send(topic, bytes, qos, retain, properties) }
        core.window.register(mid: mid, qos: qos.rawValue, waiter: nil)
    }

    /// Publishes `payload` and waits until the broker has acknowledged it (PUBACK for QoS 1, PUBCOMP for QoS 2;
    /// for QoS 0, until it was written to the socket). Use it where the caller must not forget a message before
    /// the broker has it, such as draining an outbox.
    public func publishConfirmed(
        _ topic: String,
        payload: [UInt8],
        qos: MQTTQoS = .atLeastOnce,
        retain: Bool = false,
        properties: MQTTPublishProperties = MQTTPublishProperties()
    ) async throws(MQTTError) {
        guard await core.window.acquire() else { throw .shutdown("publishConfirmed") }
        let mid = try withBytes(payload) { bytes throws(MQTTError) in try send(topic, bytes, qos, retain, properties) }
        let reason = await withCheckedContinuation { continuation in
            core.window.register(mid: mid, qos: qos.rawValue, waiter: continuation)
        }
        if reason == PublishWindow.closedReason {
            throw MQTTError(
                code: qos == .atMostOnce ? .connectionLost : .shutdown,
                message: "connection closed before the broker acknowledged the message",
                function: "publishConfirmed", isRetriable: true)
        }
        if reason >= 0x80 {
            throw MQTTError(
                code: reason == 0x87 ? .notAuthorized : .rejected,
                message: "broker rejected the message: \(String(cString: mosquitto_reason_string(reason)))",
                function: "PUBACK", returnCode: reason, isRetriable: false)
        }
    }

    /// Publishes without waiting, for code that must not suspend (a hot-path handler, a firmware loop).
    /// Throws ``MQTTError/Code/inFlightLimitReached`` when the window is full.
    public func tryPublish(
        _ topic: String,
        payload: UnsafeRawBufferPointer,
        qos: MQTTQoS = .atMostOnce,
        retain: Bool = false
    ) throws(MQTTError) {
        switch core.window.tryAcquireOrClosed() {
        case .none:
            throw MQTTError(
                code: .inFlightLimitReached, message: "\(configuration.maxInFlight) messages in flight",
                function: "tryPublish", isRetriable: true)
        case .some(false):
            throw .shutdown("tryPublish")
        case .some(true):
            let mid = try send(topic, payload, qos, retain, MQTTPublishProperties())
            core.window.register(mid: mid, qos: qos.rawValue, waiter: nil)
        }
    }

    /// Hands a publication to libmosquitto with a reserved slot; gives the slot back if the library refuses.
    private func send(
        _ topic: String,
        _ payload: UnsafeRawBufferPointer,
        _ qos: MQTTQoS,
        _ retain: Bool,
        _ properties: MQTTPublishProperties
    ) throws(MQTTError) -> Int32 {
        var mid: Int32 = 0
        let rc: Int32
        do throws(MQTTError) {
            if properties.isEmpty {
                rc = mosquitto_publish_v5(
                    core.handle, &mid, topic, Int32(payload.count), payload.baseAddress,
                    qos.rawValue, retain, nil)
            } else {
                guard configuration.protocolVersion == .v5 else {
                    throw MQTTError(
                        code: .notSupported, message: "message properties need MQTT 5",
                        function: "publish", isRetriable: false)
                }
                rc = try MQTTProperties.with(properties) { list in
                    mosquitto_publish_v5(
                        core.handle, &mid, topic, Int32(payload.count), payload.baseAddress,
                        qos.rawValue, retain, list)
                }
            }
        } catch {
            core.window.cancelReservation()
            throw error
        }
        // For QoS 1/2 libmosquitto queues the message before trying to send it, so "no connection" means
        // "will be sent after reconnecting": the slot stays taken until the broker acknowledges.
        if rc == MOSQ_ERR_SUCCESS.rawValue || (rc == MOSQ_ERR_NO_CONN.rawValue && qos != .atMostOnce && mid != 0) {
            return mid
        }
        core.window.cancelReservation()
        throw MQTTError(mosquittoReturnCode: rc, function: "mosquitto_publish_v5")
    }
}

/// `Array.withUnsafeBytes` with a typed error.
@inline(__always)
func withBytes<R>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(MQTTError) -> R) throws(MQTTError) -> R {
    var result: Result<R, MQTTError>?
    array.withUnsafeBytes { bytes in
        result = Result { () throws(MQTTError) -> R in try body(bytes) }
    }
    return try result!.get()
}
