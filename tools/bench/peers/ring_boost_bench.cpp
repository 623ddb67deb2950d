/*
 * Peer for `tributary-bench` ring-buffer cases: cross-thread throughput of Boost.Lockfree's
 * boost::lockfree::spsc_queue<uint64_t> (runtime-sized), measured the same way as Tributary's own SPSC ring.
 *
 * One producer thread pushes the values 1..COUNT, spinning (never sleeping) while the queue is full; one consumer
 * thread pops until it has received COUNT values, spinning while the queue is empty. The consumer checks that every
 * value is exactly the previous one plus 1 and sums them into a checksum. The clock (std::chrono::steady_clock)
 * starts when both threads have been released from a start barrier and stops when the consumer has its last value.
 *
 * Usage: ring_boost_bench MODE COUNT CAPACITY
 *   MODE      "single" -> push(const T&) / pop(T&), one element per call
 *             N (e.g. 16, 256, 4096) -> push(const T*, N) / pop(T*, N), up to N elements per call
 *   COUNT     number of items to transfer (e.g. 100000000)
 *   CAPACITY  ring capacity in elements (e.g. 65536)
 * Prints one line: "items=N seconds=S checksum=C ok=1" (ok=0 if the order was violated or the checksum is not
 * COUNT*(COUNT+1)/2). Exit status: 0 on success, 1 if the check failed, 2 on bad arguments.
 *
 * Needs Boost headers only (Debian: apt-get install -y libboost-dev).
 * Build: g++ -std=c++17 -O2 -march=native -Wall -o ring_boost_bench ring_boost_bench.cpp -lpthread
 */
#include <boost/lockfree/spsc_queue.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

using Queue = boost::lockfree::spsc_queue<uint64_t>;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<int> ready{0};     // threads that reached the start barrier
std::atomic<bool> go{false};   // released by main once both threads are ready

void wait_for_start() {
    ready.fetch_add(1, std::memory_order_acq_rel);
    while (!go.load(std::memory_order_acquire)) {
    }
}

struct Result {
    uint64_t received = 0;
    uint64_t checksum = 0;
    bool in_order = true;
    Clock::time_point finished;
};

void produce_single(Queue &q, uint64_t count) {
    wait_for_start();
    for (uint64_t v = 1; v <= count; ++v) {
        while (!q.push(v)) {
        }
    }
}

void consume_single(Queue &q, uint64_t count, Result &r) {
    wait_for_start();
    // The values must arrive as 1, 2, 3, ...: value number n (from 0) must be n + 1, i.e. the previous value plus 1.
    // Differences are OR-ed into `diff`, which stays 0 only if every value was in order.
    uint64_t sum = 0, n = 0, diff = 0;
    uint64_t v;
    while (n < count) {
        if (q.pop(v)) {
            ++n;
            diff |= v ^ n;
            sum += v;
        }
    }
    r.finished = Clock::now();
    r.received = n;
    r.checksum = sum;
    r.in_order = diff == 0;
}

void produce_batch(Queue &q, uint64_t count, size_t batch) {
    std::vector<uint64_t> buf(batch);
    wait_for_start();
    uint64_t next = 1;
    while (next <= count) {
        size_t len = (count - next + 1 < batch) ? (size_t)(count - next + 1) : batch;
        for (size_t i = 0; i < len; ++i) buf[i] = next + i;
        size_t done = 0;
        while (done < len) done += q.push(buf.data() + done, len - done);
        next += len;
    }
}

void consume_batch(Queue &q, uint64_t count, size_t batch, Result &r) {
    std::vector<uint64_t> buf(batch);
    wait_for_start();
    // As in consume_single: value number n (from 0) must be n + 1; any difference is OR-ed into `diff`.
    uint64_t sum = 0, n = 0, diff = 0;
    const uint64_t *data = buf.data();
    while (n < count) {
        size_t want = (count - n < batch) ? (size_t)(count - n) : batch;
        size_t got = q.pop(buf.data(), want);
        const uint64_t first = n + 1;
        for (size_t i = 0; i < got; ++i) {
            diff |= data[i] ^ (first + i);
            sum += data[i];
        }
        n += got;
    }
    r.finished = Clock::now();
    r.received = n;
    r.checksum = sum;
    r.in_order = diff == 0;
}

bool parse_u64(const char *s, uint64_t &out) {
    if (!s || !*s) return false;
    char *end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (*end != '\0' || s[0] == '-' || v == 0) return false;
    out = (uint64_t)v;
    return true;
}

int usage(const char *argv0) {
    std::fprintf(stderr, "usage: %s MODE COUNT CAPACITY\n"
                         "  MODE: single | batch size (e.g. 16, 256, 4096)\n", argv0);
    return 2;
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 4) return usage(argv[0]);
    const bool single = std::strcmp(argv[1], "single") == 0;
    uint64_t batch = 0, count = 0, capacity = 0;
    if (!single && !parse_u64(argv[1], batch)) return usage(argv[0]);
    if (!parse_u64(argv[2], count) || !parse_u64(argv[3], capacity)) return usage(argv[0]);

    Queue q((size_t)capacity);
    Result r;

    std::thread producer, consumer;
    if (single) {
        producer = std::thread(produce_single, std::ref(q), count);
        consumer = std::thread(consume_single, std::ref(q), count, std::ref(r));
    } else {
        producer = std::thread(produce_batch, std::ref(q), count, (size_t)batch);
        consumer = std::thread(consume_batch, std::ref(q), count, (size_t)batch, std::ref(r));
    }

    while (ready.load(std::memory_order_acquire) < 2) {
    }
    const Clock::time_point start = Clock::now();
    go.store(true, std::memory_order_release);

    producer.join();
    consumer.join();

    const double seconds = std::chrono::duration<double>(r.finished - start).count();
    // Expected sum of 1..COUNT, computed without overflowing the intermediate product (wraps like the checksum).
    const uint64_t expected = (count % 2 == 0) ? (count / 2) * (count + 1) : count * ((count + 1) / 2);
    const bool ok = r.in_order && r.received == count && r.checksum == expected;

    std::printf("items=%llu seconds=%.6f checksum=%llu ok=%d\n", (unsigned long long)r.received, seconds,
                (unsigned long long)r.checksum, ok ? 1 : 0);
    std::fflush(stdout);
    return ok ? 0 : 1;
}
