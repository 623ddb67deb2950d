internal import CMosquitto
import Synchronization

extension MQTTClient {
    /// Subscribes to `filter` and waits for the broker's grant; returns the granted QoS.
    ///
    /// `filter` may be a shared subscription, `$share/GROUP/TOPIC`, so several clients split one stream. With
    /// `hotPath`, matching messages go to that handler on the network thread instead of to ``messages``. The
    /// subscription is remembered and renewed after a reconnect that lost the session. Called before the client
    /// is connected, it returns the requested QoS at once and subscribes when the connection is made.
    @discardableResult
    public func subscribe(
        _ filter: String,
        qos: MQTTQoS = .atLeastOnce,
        hotPath: MQTTHotPathHandler? = nil
    ) async throws(MQTTError) -> MQTTQoS {
        let matchFilter = Self.matchFilter(for: filter)
        core.state.withLock { s in
            s.subscriptions.removeAll { $0.filter == filter }
            s.subscriptions.append(.init(filter: filter, qos: qos, matchFilter: matchFilter, handler: hotPath))
            s.hotPath.removeAll { $0.filter == matchFilter }
            if let hotPath { s.hotPath.append((matchFilter, hotPath)) }
            core.routesVersion.add(1, ordering: .releasing)
        }
        // Marked for the next connection first: if there is no connection yet (or it comes up meanwhile), the
        // broker has not seen this subscription, and it is made on connection even if the broker kept our session.
        core.state.withLock { _ = $0.renewOnConnect.insert(filter) }
        var mid: Int32 = 0
        let rc = mosquitto_subscribe_v5(core.handle, &mid, filter, qos.rawValue, 0, nil)
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            if rc == MOSQ_ERR_NO_CONN.rawValue { return qos }
            forget(filter)
            try mosquittoCall("mosquitto_subscribe_v5", rc)
        }
        core.state.withLock {
            $0.renewOnConnect.remove(filter)
            $0.awaitingSubAck[mid] = (filter, qos, true)
        }
        let reply = await core.subscribeReplies.wait(for: mid)
        core.state.withLock { _ = $0.awaitingSubAck.removeValue(forKey: mid) }
        guard let granted = reply else { throw .shutdown("subscribe") }
        guard let first = granted.first, first < 0x80, let grantedQoS = MQTTQoS(rawValue: first) else {
            forget(filter)
            throw MQTTError(
                code: .rejected, message: "broker refused subscription to '\(filter)'",
                function: "SUBACK", returnCode: granted.first, isRetriable: false)
        }
        return grantedQoS
    }

    /// Unsubscribes from `filter` (exactly as it was subscribed) and waits for the broker's answer.
    public func unsubscribe(_ filter: String) async throws(MQTTError) {
        forget(filter)
        var mid: Int32 = 0
        try mosquittoCall("mosquitto_unsubscribe_v5", mosquitto_unsubscribe_v5(core.handle, &mid, filter, nil))
        guard await core.unsubscribeReplies.wait(for: mid) != nil else { throw .shutdown("unsubscribe") }
    }

    private func forget(_ filter: String) {
        let matchFilter = Self.matchFilter(for: filter)
        core.state.withLock { s in
            s.subscriptions.removeAll { $0.filter == filter }
            s.hotPath.removeAll { $0.filter == matchFilter }
            s.renewOnConnect.remove(filter)
            core.routesVersion.add(1, ordering: .releasing)
        }
    }

    /// The topic filter to match incoming topics against: a shared subscription's `$share/GROUP/` prefix removed.
    static func matchFilter(for filter: String) -> String {
        guard filter.hasPrefix("$share/") else { return filter }
        let parts = filter.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        return parts.count == 3 ? String(parts[2]) : filter
    }
}
