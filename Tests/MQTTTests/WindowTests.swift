import Testing
import TributaryTestSupport

@testable import MQTT

@Suite struct PublishWindowTests {
    @Test("a completion that beats its registration frees the slot and reaches the waiter")
    func earlyCompletion() async {
        let window = PublishWindow(limit: 2)
        #expect(window.tryAcquireOrClosed() == true)
        window.complete(mid: 7, reason: 0)  // the network thread was faster than the publisher
        let reason = await withCheckedContinuation { window.register(mid: 7, qos: 1, waiter: $0) }
        #expect(reason == 0)
        #expect(window.inFlight == 0)
    }

    @Test("the window never admits more than its limit and a completion admits the next publisher")
    func bounded() async {
        let window = PublishWindow(limit: 3)
        for mid in 1...3 {
            #expect(await window.acquire())
            window.register(mid: Int32(mid), qos: 1, waiter: nil)
        }
        #expect(window.tryAcquireOrClosed() == nil)
        #expect(window.inFlight == 3)
        async let admitted = window.acquire()
        try? await Task.sleep(for: .milliseconds(20))
        window.complete(mid: 2, reason: 0)
        #expect(await admitted)
        #expect(window.inFlight == 3)
    }

    @Test("a saturated publisher is woken at the low-water mark, then refills the window")
    func lowWater() async {
        let window = PublishWindow(limit: 16)  // low water: 14
        for mid in 1...16 {
            _ = window.tryAcquireOrClosed()
            window.register(mid: Int32(mid), qos: 1, waiter: nil)
        }
        let admitted = Locked(false)
        let waiter = Task {
            let ok = await window.acquire()
            admitted.withLock { $0 = ok }
        }
        try? await Task.sleep(for: .milliseconds(20))
        window.complete(mid: 1, reason: 0)
        try? await Task.sleep(for: .milliseconds(20))
        #expect(admitted.value == false, "one completion must not wake a saturated publisher")
        window.complete(mid: 2, reason: 0)
        await waiter.value
        #expect(admitted.value == true)
        #expect(window.inFlight == 15)
    }

    @Test("unsent QoS 0 packets are forgotten on disconnect; QoS 1 stay until acknowledged")
    func dropQoS0() {
        let window = PublishWindow(limit: 10)
        for (mid, qos) in [(1, 0), (2, 1), (3, 0)] {
            _ = window.tryAcquireOrClosed()
            window.register(mid: Int32(mid), qos: Int32(qos), waiter: nil)
        }
        window.dropUnsentQoS0()
        #expect(window.inFlight == 1)
        window.complete(mid: 2, reason: 0)
        #expect(window.inFlight == 0)
    }

    @Test("closing fails waiting publishers and refuses new ones")
    func close() async {
        let window = PublishWindow(limit: 1)
        _ = window.tryAcquireOrClosed()
        async let blocked = window.acquire()
        try? await Task.sleep(for: .milliseconds(20))
        window.close()
        #expect(await blocked == false)
        #expect(window.tryAcquireOrClosed() == false)
    }
}

@Suite struct ReconnectPolicyTests {
    @Test("delays grow exponentially from the minimum, stop at the maximum, and jitter stays within its share")
    func backoff() {
        let policy = MQTTReconnectPolicy(minDelay: .milliseconds(100), maxDelay: .seconds(5), jitter: 0.5)
        #expect(policy.delay(attempt: 0, unit: 1) == .milliseconds(100))
        #expect(policy.delay(attempt: 3, unit: 1) == .milliseconds(800))
        #expect(policy.delay(attempt: 30, unit: 1) == .seconds(5))
        #expect(policy.delay(attempt: 3, unit: 0) == .milliseconds(400))
        #expect(policy.delay(attempt: 1000, unit: 0.5) <= .seconds(5))
    }

    @Test("shared subscriptions match topics without their $share prefix")
    func sharedFilter() {
        #expect(MQTTClient.matchFilter(for: "$share/g/fl/t/update/+") == "fl/t/update/+")
        #expect(MQTTClient.matchFilter(for: "fl/t/update/+") == "fl/t/update/+")
    }
}
