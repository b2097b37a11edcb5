#ifndef KMS_OPENSSL_H
#define KMS_OPENSSL_H

/*
 * A handful of small functions over the system's OpenSSL 3 libcrypto, for what swift-crypto
 * lacks: RSA over a caller-given digest, SHA-224, secp256k1, AES key wrap with padding.
 * Swift cannot call OpenSSL's variadic functions and many of its old macros, so the logic
 * lives here behind plain signatures: byte buffers in and out, an opaque key pointer, and an
 * int result (1 = success, 0 = failure). No OpenSSL header is exposed to Swift.
 *
 * Every function clears OpenSSL's thread-local error queue when it fails, so errors never pile
 * up on a worker thread, and zeroes every temporary buffer that held a secret.
 */

#include <stddef.h>
#include <stdint.h>

/* An EVP_PKEY (private or public). Safe to share between threads: each operation below makes
 * its own EVP_PKEY_CTX. */
typedef struct evp_pkey_st kms_pkey;

/* Key kinds, as kms_pkey_describe reports them. */
#define KMS_KIND_RSA 1
#define KMS_KIND_EC 2
#define KMS_KIND_ED25519 3

/* Named curves. */
#define KMS_CURVE_P256 1
#define KMS_CURVE_P384 2
#define KMS_CURVE_P521 3
#define KMS_CURVE_SECP256K1 4

/* Hashes. */
#define KMS_HASH_SHA1 1
#define KMS_HASH_SHA224 2
#define KMS_HASH_SHA256 3
#define KMS_HASH_SHA384 4
#define KMS_HASH_SHA512 5

/* Signature schemes. */
#define KMS_SIG_RSA_PKCS1 1
#define KMS_SIG_RSA_PSS 2 /* MGF1 with the same hash, salt as long as the hash */
#define KMS_SIG_ECDSA 3   /* DER-encoded signature */
#define KMS_SIG_ED25519 4 /* pure Ed25519 over the message itself */

void kms_pkey_free(kms_pkey *key);

/* RSA with e = 65537; NULL on failure. */
kms_pkey *kms_pkey_generate_rsa(int bits);
/* One of KMS_CURVE_*; NULL on failure. */
kms_pkey *kms_pkey_generate_ec(int curve);
kms_pkey *kms_pkey_generate_ed25519(void);

/* Parses a DER PKCS#8 PrivateKeyInfo (the whole buffer, no trailing bytes) and checks that the
 * private and public halves belong together. NULL on failure. */
kms_pkey *kms_pkey_from_pkcs8(const uint8_t *der, size_t der_len);
/* Parses a DER SubjectPublicKeyInfo (the whole buffer). NULL on failure. */
kms_pkey *kms_pkey_from_spki(const uint8_t *der, size_t der_len);

/* The kind (KMS_KIND_*) and its parameter: modulus bits for RSA, KMS_CURVE_* for EC, 0 for
 * Ed25519. 0 for a key of any other kind or curve. */
int kms_pkey_describe(const kms_pkey *key, int *kind, int *param);
/* The largest signature, ciphertext or shared secret the key produces, in bytes. */
int kms_pkey_max_output(const kms_pkey *key);

/* DER encodings, allocated by OpenSSL: free with kms_free (which zeroes first). */
int kms_pkey_pkcs8(const kms_pkey *key, uint8_t **out, size_t *out_len);
int kms_pkey_spki(const kms_pkey *key, uint8_t **out, size_t *out_len);
void kms_free(uint8_t *buffer, size_t len);

/* Signs `tbs`: a digest of `hash` for RSA and ECDSA (is_digest = 1), or the message, which is
 * hashed first (is_digest = 0); the message itself for Ed25519 (hash and is_digest ignored).
 * `sig` holds *sig_len bytes (at least kms_pkey_max_output); *sig_len is set to the length. */
int kms_sign(const kms_pkey *key, int scheme, int hash, int is_digest,
             const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len);
/* 1 when the signature verifies, 0 otherwise (malformed signatures included). */
int kms_verify(const kms_pkey *key, int scheme, int hash, int is_digest,
               const uint8_t *tbs, size_t tbs_len, const uint8_t *sig, size_t sig_len);

/* RSAES-OAEP with MGF1 of the same hash and an empty label. `out` holds *out_len bytes (at
 * least kms_pkey_max_output); *out_len is set to the length. */
int kms_rsa_oaep_encrypt(const kms_pkey *key, int hash, const uint8_t *in, size_t in_len,
                         uint8_t *out, size_t *out_len);
int kms_rsa_oaep_decrypt(const kms_pkey *key, int hash, const uint8_t *in, size_t in_len,
                         uint8_t *out, size_t *out_len);

/* ECDH: the shared x-coordinate. The peer is checked to be a valid point of the same curve. */
int kms_ecdh(const kms_pkey *key, const kms_pkey *peer, uint8_t *out, size_t *out_len);

/* HMAC; `out` holds at least 64 bytes, *out_len is set to the tag length. HMAC-SHA256 runs on
 * the stack (nothing allocated); the others on a copy of a context fetched once per digest. */
int kms_hmac(int hash, const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
             uint8_t *out, size_t *out_len);

/* HKDF-SHA256 (RFC 5869) with a 32-byte output, the one block its expand step makes:
 * PRK = HMAC(salt, ikm), OKM = HMAC(PRK, info | 0x01), HMAC-SHA256 over OpenSSL's SHA-256 with
 * nothing allocated. An empty salt is HMAC's all-zero key, as the RFC says. The PRK is cleared
 * before returning. Always returns 1. */
int kms_hkdf_sha256_32(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                       const uint8_t *info, size_t info_len, uint8_t out[32]);

/* RFC 5649 AES key wrap with padding, with a 16, 24 or 32 byte key encryption key. Wrapping
 * writes at most in_len + 15 bytes, unwrapping at most in_len bytes; *out_len is set. */
int kms_aes_wrap_pad(int wrap, const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
                     uint8_t *out, size_t *out_len);

/* Constant-time equality of two buffers of `len` bytes: 1 when equal. */
int kms_equal_consttime(const uint8_t *a, const uint8_t *b, size_t len);

#endif
