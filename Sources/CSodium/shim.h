// libsodium (Debian's libsodium-dev): the aggregator's Ed25519 signatures and checks (checks in half of
// libcrypto's time on x86-64; docs/trust.md). Nothing cryptographic is written here.
#include <sodium.h>
