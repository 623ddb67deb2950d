// libsodium (Debian's libsodium-dev): the aggregator's Ed25519 signatures and checks, about twice as fast as
// libcrypto's on x86-64 (docs/trust.md). Nothing cryptographic is written here.
#include <sodium.h>
