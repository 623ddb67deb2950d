// OpenSSL's libcrypto (Debian's libssl-dev), which libmosquitto already loads into every Tributary process.
// Only the calls that are C macros in OpenSSL 3 get a wrapper here; nothing cryptographic is written here.
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// The bytes a memory BIO holds (BIO_get_mem_data is a macro).
static inline long tributary_bio_bytes(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

/// A new P-256 key (EVP_EC_gen is a variadic macro).
static inline EVP_PKEY *tributary_p256_key(void) { return EVP_EC_gen("P-256"); }

/// Adds an X.509 v3 extension written as OpenSSL's configuration text (X509V3_set_ctx_nodb is a macro).
static inline int tributary_add_extension(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/// Frees memory OpenSSL allocated (OPENSSL_free is a macro).
static inline void tributary_openssl_free(void *p) { OPENSSL_free(p); }
