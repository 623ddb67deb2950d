/* Ed25519 with OpenSSL's libcrypto or libsodium, in a process that has libmosquitto loaded as the agent has:
 * time per signature and verification, and what each library adds to the process's peak resident memory.
 *
 *   sign_footprint libcrypto|libsodium [messages] [bytes]
 *
 * Prints one line: library= sign_us= verify_us= hwm_before_kib= hwm_after_kib= added_kib=
 * The baseline has libmosquitto initialised and a TLS client context made (as an agent in production has before
 * it signs anything). libsodium is opened with dlopen (libsodium23, no headers needed) after the baseline is
 * read, so its mapping is part of what it adds; libcrypto is already mapped by libmosquitto and OpenSSL's TLS.
 * Used by `tributary-bench trust`. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <mosquitto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long value = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, field, n) == 0) value = strtol(line + n + 1, NULL, 10);
    }
    if (f) fclose(f);
    return value;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

typedef int (*sodium_init_f)(void);
typedef int (*keypair_f)(unsigned char *, unsigned char *);
typedef int (*sign_f)(unsigned char *, unsigned long long *, const unsigned char *, unsigned long long,
                      const unsigned char *);
typedef int (*verify_f)(const unsigned char *, const unsigned char *, unsigned long long, const unsigned char *);

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sign_footprint libcrypto|libsodium [messages] [bytes]\n");
        return 2;
    }
    int count = argc > 2 ? atoi(argv[2]) : 2000;
    int size = argc > 3 ? atoi(argv[3]) : 2213;
    mosquitto_lib_init();
    struct mosquitto *client = mosquitto_new("footprint", true, NULL);
    SSL_CTX *tls = SSL_CTX_new(TLS_client_method());
    unsigned char *message = malloc(size);
    for (int i = 0; i < size; i++) message[i] = (unsigned char)(i * 31 + 7);
    unsigned char signature[64];
    long before = status_kib("VmHWM:");
    double sign_s = 0, verify_s = 0;
    int valid = 0;
    if (strcmp(argv[1], "libcrypto") == 0) {
        EVP_PKEY *key = NULL;
        EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
        EVP_PKEY_keygen_init(kctx);
        EVP_PKEY_keygen(kctx, &key);
        double t0 = now();
        for (int i = 0; i < count; i++) {
            EVP_MD_CTX *ctx = EVP_MD_CTX_new();
            size_t length = sizeof signature;
            EVP_DigestSignInit(ctx, NULL, NULL, NULL, key);
            EVP_DigestSign(ctx, signature, &length, message, size);
            EVP_MD_CTX_free(ctx);
        }
        double t1 = now();
        for (int i = 0; i < count; i++) {
            EVP_MD_CTX *ctx = EVP_MD_CTX_new();
            EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key);
            valid += EVP_DigestVerify(ctx, signature, sizeof signature, message, size) == 1;
            EVP_MD_CTX_free(ctx);
        }
        verify_s = now() - t1;
        sign_s = t1 - t0;
        EVP_PKEY_free(key);
        EVP_PKEY_CTX_free(kctx);
    } else if (strcmp(argv[1], "libsodium") == 0) {
        void *library = dlopen("libsodium.so.23", RTLD_NOW);
        if (!library) {
            fprintf(stderr, "sign_footprint: %s\n", dlerror());
            return 1;
        }
        ((sodium_init_f)dlsym(library, "sodium_init"))();
        keypair_f keypair = (keypair_f)dlsym(library, "crypto_sign_keypair");
        sign_f sign = (sign_f)dlsym(library, "crypto_sign_detached");
        verify_f verify = (verify_f)dlsym(library, "crypto_sign_verify_detached");
        unsigned char public_key[32], secret_key[64];
        keypair(public_key, secret_key);
        double t0 = now();
        for (int i = 0; i < count; i++) sign(signature, NULL, message, size, secret_key);
        double t1 = now();
        for (int i = 0; i < count; i++) valid += verify(signature, message, size, public_key) == 0;
        verify_s = now() - t1;
        sign_s = t1 - t0;
    } else {
        fprintf(stderr, "sign_footprint: unknown library %s\n", argv[1]);
        return 2;
    }
    if (valid != count) {
        fprintf(stderr, "sign_footprint: %d of %d signatures verified\n", valid, count);
        return 1;
    }
    long after = status_kib("VmHWM:");
    printf("library=%s sign_us=%.2f verify_us=%.2f hwm_before_kib=%ld hwm_after_kib=%ld added_kib=%ld\n", argv[1],
           sign_s / count * 1e6, verify_s / count * 1e6, before, after, after - before);
    SSL_CTX_free(tls);
    mosquitto_destroy(client);
    mosquitto_lib_cleanup();
    return 0;
}
