internal import CMosquitto

// libmosquitto calls these on the client's network thread. They are free functions in a library module, so they
// are nonisolated: a closure written in an executable's main.swift would be main-actor isolated, and the runtime
// traps when a foreign thread calls it.

@inline(__always)
private func core(_ context: UnsafeMutableRawPointer?) -> ClientCore {
    Unmanaged<ClientCore>.fromOpaque(context!).takeUnretainedValue()
}

private func onConnect(
    _: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ rc: Int32, _ flags: Int32,
    _: OpaquePointer?
) {
    core(context).handleConnect(rc: rc, flags: flags)
}

private func onDisconnect(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ rc: Int32, _: OpaquePointer?) {
    core(context).handleDisconnect(rc: rc)
}

private func onPublish(
    _: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ mid: Int32, _ reason: Int32,
    _: OpaquePointer?
) {
    core(context).window.complete(mid: mid, reason: reason)
}

private func onMessage(
    _: OpaquePointer?, _ context: UnsafeMutableRawPointer?,
    _ message: UnsafePointer<mosquitto_message>?, _ properties: OpaquePointer?
) {
    guard let message else { return }
    core(context).route(message, properties: properties)
}

private func onSubscribe(
    _: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ mid: Int32, _ count: Int32,
    _ granted: UnsafePointer<Int32>?, _: OpaquePointer?
) {
    let values = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(count))) } ?? []
    core(context).handleSubscribe(mid: mid, granted: values)
}

private func onUnsubscribe(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ mid: Int32, _: OpaquePointer?) {
    core(context).unsubscribeReplies.deliver((), for: mid)
}

extension ClientCore {
    func installCallbacks() {
        mosquitto_connect_v5_callback_set(handle, onConnect)
        mosquitto_disconnect_v5_callback_set(handle, onDisconnect)
        mosquitto_publish_v5_callback_set(handle, onPublish)
        mosquitto_message_v5_callback_set(handle, onMessage)
        mosquitto_subscribe_v5_callback_set(handle, onSubscribe)
        mosquitto_unsubscribe_v5_callback_set(handle, onUnsubscribe)
    }

    func handleConnect(rc: Int32, flags: Int32) {
        guard rc == 0 else {
            let error = MQTTError(connackCode: rc, version: configuration.protocolVersion)
            logger.info("MQTT broker refused connection", metadata: ["error": "\(error)"])
            if resolveFirstConnect(.failure(error)) {
                stopRequested.store(true, ordering: .sequentiallyConsistent)
            }
            eventSink.yield(.disconnected(error))
            return
        }
        let sessionPresent = flags & 1 == 1
        isConnected.store(true, ordering: .sequentiallyConsistent)
        logger.info(
            "MQTT connected",
            metadata: [
                "broker": "\(configuration.host):\(configuration.port)", "session_present": "\(sessionPresent)",
            ])
        let unanswered = state.withLock { s -> Set<String> in
            defer { s.renewOnConnect.removeAll() }
            return s.renewOnConnect
        }
        resubscribe(sessionPresent ? { unanswered.contains($0) } : { _ in true })
        _ = resolveFirstConnect(.success(()))
        eventSink.yield(.connected(sessionPresent: sessionPresent))
    }

    func handleDisconnect(rc: Int32) {
        isConnected.store(false, ordering: .sequentiallyConsistent)
        window.dropUnsentQoS0()
        // A SUBSCRIBE without its answer may be lost with the connection: renew it on the next one, and let its
        // caller go on (as for a subscription made while disconnected).
        let unanswered = state.withLock { s -> [(mid: Int32, qos: MQTTQoS, caller: Bool)] in
            defer { s.awaitingSubAck.removeAll() }
            for entry in s.awaitingSubAck.values { s.renewOnConnect.insert(entry.filter) }
            return s.awaitingSubAck.map { ($0.key, $0.value.qos, $0.value.caller) }
        }
        for entry in unanswered where entry.caller {
            subscribeReplies.deliver([Int32(entry.qos.rawValue)], for: entry.mid)
        }
        if rc == 0 {
            logger.debug("MQTT disconnected on request")
            eventSink.yield(.disconnected(nil))
        } else {
            let error = MQTTError(mosquittoReturnCode: rc, function: "on_disconnect")
            logger.info("MQTT connection lost", metadata: ["error": "\(error)"])
            eventSink.yield(.disconnected(error))
        }
    }

    func handleSubscribe(mid: Int32, granted: [Int32]) {
        let isInternal = state.withLock { $0.awaitingSubAck.removeValue(forKey: mid).map { !$0.caller } ?? false }
        if isInternal {
            if granted.contains(where: { $0 >= 0x80 }) {
                logger.info("MQTT broker refused a resubscription", metadata: ["granted": "\(granted)"])
            }
            return
        }
        subscribeReplies.deliver(granted, for: mid)
    }

    /// Renews the subscriptions whose filter passes `renew`: all of them when the broker has no session for us,
    /// the unanswered ones when it has. Runs on the network thread.
    private func resubscribe(_ renew: (String) -> Bool) {
        let subscriptions = state.withLock { $0.subscriptions }
        for subscription in subscriptions where renew(subscription.filter) {
            var mid: Int32 = 0
            let rc = mosquitto_subscribe_v5(handle, &mid, subscription.filter, subscription.qos.rawValue, 0, nil)
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                state.withLock { $0.awaitingSubAck[mid] = (subscription.filter, subscription.qos, false) }
            } else {
                logger.info(
                    "MQTT resubscription failed",
                    metadata: [
                        "filter": "\(subscription.filter)", "rc": "\(rc)",
                    ])
            }
        }
    }

    /// Resolves a pending first `connect()`; returns whether one was pending.
    func resolveFirstConnect(_ result: Result<Void, MQTTError>) -> Bool {
        let continuation = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            guard let c = s.firstConnect else { return nil }
            s.firstConnect = nil
            return c
        }
        guard let continuation else { return false }
        continuation.resume(with: result.mapError { $0 as any Error })
        return true
    }
}
