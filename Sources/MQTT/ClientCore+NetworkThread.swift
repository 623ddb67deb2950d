internal import CMosquitto
import Glibc

/// The client's own network thread: connect, run libmosquitto's loop, and on failure reconnect with jittered
/// exponential backoff. Blocking C calls (TCP connect, DNS, `select`) stay here, off Swift's cooperative pool.
extension ClientCore {
    /// Starts the thread unless it runs. `failFast`: a failed first connection ends the thread and is reported
    /// to the pending `connect()`, instead of being retried.
    func startNetworkThread(failFast: Bool) {
        let start = state.withLock { s -> Bool in
            if s.threadRunning { return false }
            s.threadRunning = true
            return true
        }
        guard start else { return }
        stopRequested.store(false, ordering: .sequentiallyConsistent)
        window.reopen()
        let context = ThreadContext(core: self, failFast: failFast)
        let argument = Unmanaged.passRetained(context).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { argument in
                let context = Unmanaged<ThreadContext>.fromOpaque(argument!).takeRetainedValue()
                context.core.runNetworkLoop(failFast: context.failFast)
                return nil
            }, argument)
        if rc != 0 {
            Unmanaged<ThreadContext>.fromOpaque(argument).release()
            state.withLock { $0.threadRunning = false }
            _ = resolveFirstConnect(
                .failure(
                    MQTTError(
                        code: .library, message: "pthread_create failed: \(rc)",
                        function: "pthread_create", isRetriable: true)))
            return
        }
        pthread_detach(thread)
    }

    /// Waits until the network thread has exited.
    func waitForNetworkThread() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let running = state.withLock { s -> Bool in
                if s.threadRunning { s.threadExit.append(continuation) }
                return s.threadRunning
            }
            if !running { continuation.resume() }
        }
    }

    private func runNetworkLoop(failFast: Bool) {
        var attempt = 0
        var everConnected = false
        var random = SystemRandomNumberGenerator()
        while !stopRequested.load(ordering: .sequentiallyConsistent) {
            var rc = everConnected || attempt > 0 ? mosquitto_reconnect(handle) : connectOnce()
            var function = everConnected || attempt > 0 ? "mosquitto_reconnect" : "mosquitto_connect_bind_v5"
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                let outcome = pump()
                rc = outcome.rc
                function = "mosquitto_loop"
                reportSelectLimit(rc)
                if outcome.sawConnack {
                    everConnected = true
                    attempt = 0
                }
                if stopRequested.load(ordering: .sequentiallyConsistent) { break }
            }
            let error =
                rc == MOSQ_ERR_SUCCESS.rawValue
                ? MQTTError(
                    code: .timeout, message: "no CONNACK within \(configuration.connectTimeout)",
                    function: "connect", isRetriable: true)
                : MQTTError(mosquittoReturnCode: rc, function: function)
            if failFast && !everConnected {
                if resolveFirstConnect(.failure(error)) { break }
            }
            let delay = configuration.reconnect.delay(attempt: attempt, unit: Double.random(in: 0..<1, using: &random))
            attempt += 1
            reconnectCount.add(1, ordering: .relaxed)
            logger.info(
                "MQTT reconnecting",
                metadata: [
                    "attempt": "\(attempt)", "delay": "\(delay)", "error": "\(error)",
                ])
            eventSink.yield(.reconnecting(attempt: attempt, delay: delay))
            sleepUnlessStopped(delay)
        }
        finishNetworkThread()
    }

    /// libmosquitto's loop waits with select(), which cannot watch a file descriptor at or above FD_SETSIZE
    /// (1024): past about 300 clients in one process, the loop fails with "invalid" forever. Said once, plainly.
    private func reportSelectLimit(_ rc: Int32) {
        guard rc == MOSQ_ERR_INVAL.rawValue, mosquitto_socket(handle) >= 1_024, !selectLimitReported else { return }
        selectLimitReported = true
        logger.error(
            "MQTT socket descriptor \(mosquitto_socket(handle)) is beyond what libmosquitto's select() loop can watch (1024): this process has too many connections or open files; run fewer clients per process"
        )
    }

    private func connectOnce() -> Int32 {
        let c = configuration
        let keepAlive = Int32(max(5, c.keepAlive.components.seconds))
        let maxPacket = c.protocolVersion == .v5 ? c.maximumIncomingPacketSize : nil
        do {
            return try MQTTProperties.with(MQTTPublishProperties(), maximumPacketSize: maxPacket) { properties in
                mosquitto_connect_bind_v5(handle, c.host, Int32(c.port), keepAlive, nil, properties)
            }
        } catch {
            return error.returnCode ?? MOSQ_ERR_INVAL.rawValue
        }
    }

    /// Runs libmosquitto's loop until the connection fails or the owner stops the client.
    private func pump() -> (rc: Int32, sawConnack: Bool) {
        let clock = ContinuousClock()
        let started = clock.now
        var stopSeen: ContinuousClock.Instant?
        var sawConnack = false
        while true {
            let connected = isConnected.load(ordering: .sequentiallyConsistent)
            sawConnack = sawConnack || connected
            let rc = mosquitto_loop(handle, connected ? 1000 : 50, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue { return (rc, sawConnack || isConnected.load(ordering: .relaxed)) }
            if stopRequested.load(ordering: .sequentiallyConsistent) {
                // Give a requested DISCONNECT time to be written, then leave regardless.
                let now = clock.now
                if stopSeen == nil { stopSeen = now }
                if now - stopSeen! > .seconds(2) || !isConnected.load(ordering: .relaxed) {
                    return (MOSQ_ERR_SUCCESS.rawValue, sawConnack)
                }
            } else if !sawConnack && !isConnected.load(ordering: .relaxed)
                && clock.now - started > configuration.connectTimeout
            {
                mosquitto_disconnect(handle)
                return (MOSQ_ERR_SUCCESS.rawValue, false)
            }
        }
    }

    private func sleepUnlessStopped(_ delay: Duration) {
        let clock = ContinuousClock()
        let deadline = clock.now + delay
        while !stopRequested.load(ordering: .sequentiallyConsistent) {
            let left = deadline - clock.now
            if left <= .zero { return }
            let slice = min(left, .milliseconds(20))
            let (seconds, attoseconds) = slice.components
            var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            nanosleep(&ts, nil)
        }
    }

    private func finishNetworkThread() {
        isConnected.store(false, ordering: .sequentiallyConsistent)
        window.close()
        subscribeReplies.cancelAll()
        unsubscribeReplies.cancelAll()
        _ = resolveFirstConnect(.failure(.shutdown("connect")))
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.threadRunning = false
            let w = s.threadExit
            s.threadExit.removeAll()
            return w
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// What the network thread is started with; passed through `pthread_create` as a retained pointer.
private final class ThreadContext {
    let core: ClientCore
    let failFast: Bool

    init(core: ClientCore, failFast: Bool) {
        self.core = core
        self.failFast = failFast
    }
}
