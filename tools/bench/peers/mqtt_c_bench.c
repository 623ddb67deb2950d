/*
 * Peer for `tributary-bench mqtt`: the same publish/subscribe measurement as Tributary's Swift wrapper, written
 * directly against libmosquitto. A publisher client sends COUNT messages of SIZE bytes at QOS through the broker
 * to a subscriber client; at most WINDOW publications are in flight (as in the wrapper), so memory stays bounded.
 * Both clients run libmosquitto's own network thread (mosquitto_loop_start).
 *
 * Usage: mqtt_c_bench HOST PORT QOS SIZE COUNT WINDOW
 * Prints one line: "received=N seconds=S" (time from the first publish to the last message received, or to the
 * moment delivery stalled for 2 s, for QoS 0 where the broker may drop).
 *
 * Build: cc -O2 -o mqtt_c_bench mqtt_c_bench.c -lmosquitto -lpthread
 */
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static long in_flight = 0;
static long received = 0;
static long expected = 0;
static int subscribed = 0;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_publish(struct mosquitto *m, void *obj, int mid) {
    (void)m; (void)obj; (void)mid;
    pthread_mutex_lock(&lock);
    in_flight--;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
    (void)m; (void)obj; (void)msg;
    pthread_mutex_lock(&lock);
    received++;
    if (received >= expected) pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted) {
    (void)m; (void)obj; (void)mid; (void)count; (void)granted;
    pthread_mutex_lock(&lock);
    subscribed = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static struct mosquitto *make_client(const char *id, const char *host, int port, int window) {
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    if (!m) { fprintf(stderr, "mosquitto_new failed\n"); exit(2); }
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(m, (unsigned int)window);
    int rc = mosquitto_connect(m, host, port, 60);
    if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "connect: %s\n", mosquitto_strerror(rc)); exit(2); }
    return m;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT QOS SIZE COUNT WINDOW\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]), qos = atoi(argv[3]), size = atoi(argv[4]);
    long count = atol(argv[5]);
    int window = atoi(argv[6]);
    expected = count;
    mosquitto_lib_init();

    char sub_id[64], pub_id[64];
    snprintf(sub_id, sizeof sub_id, "cbench-sub-%d", (int)getpid());
    snprintf(pub_id, sizeof pub_id, "cbench-pub-%d", (int)getpid());
    struct mosquitto *sub = make_client(sub_id, host, port, window);
    mosquitto_message_callback_set(sub, on_message);
    mosquitto_subscribe_callback_set(sub, on_subscribe);
    mosquitto_loop_start(sub);
    mosquitto_subscribe(sub, NULL, "bench/c", qos);
    pthread_mutex_lock(&lock);
    while (!subscribed) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);

    struct mosquitto *pub = make_client(pub_id, host, port, window);
    mosquitto_publish_callback_set(pub, on_publish);
    mosquitto_loop_start(pub);

    unsigned char *payload = calloc(1, (size_t)size > 8 ? (size_t)size : 8);
    double started = now_seconds();
    for (long i = 0; i < count; i++) {
        pthread_mutex_lock(&lock);
        while (in_flight >= window) pthread_cond_wait(&changed, &lock);
        in_flight++;
        pthread_mutex_unlock(&lock);
        memcpy(payload, &i, sizeof i < (size_t)size ? sizeof i : (size_t)size);
        int rc = mosquitto_publish(pub, NULL, "bench/c", size, payload, qos, false);
        if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "publish: %s\n", mosquitto_strerror(rc)); return 2; }
    }

    /* Wait for everything, or until delivery stalls for 2 s (QoS 0 may be dropped by the broker). */
    double finished = now_seconds();
    pthread_mutex_lock(&lock);
    long last = -1;
    double last_change = now_seconds();
    while (received < expected) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 1000000;
        if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&changed, &lock, &until);
        if (received != last) { last = received; last_change = now_seconds(); finished = last_change; }
        else if (now_seconds() - last_change > 2.0) break;
    }
    if (received >= expected) finished = now_seconds();
    long got = received;
    pthread_mutex_unlock(&lock);

    printf("received=%ld seconds=%.6f\n", got, finished - started);
    mosquitto_disconnect(pub);
    mosquitto_disconnect(sub);
    mosquitto_loop_stop(pub, false);
    mosquitto_loop_stop(sub, false);
    mosquitto_destroy(pub);
    mosquitto_destroy(sub);
    mosquitto_lib_cleanup();
    free(payload);
    return 0;
}
