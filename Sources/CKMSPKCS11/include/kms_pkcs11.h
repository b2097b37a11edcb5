#ifndef KMS_PKCS11_H
#define KMS_PKCS11_H

/*
 * A small C layer over a PKCS #11 module loaded at run time (dlopen), for KMSPKCS11: Swift calls
 * plain functions with byte buffers and integers, and never sees the standard's structures or
 * its table of function pointers (pkcs11_subset.h, private to this target).
 *
 * Every function returns the module's CK_RV (0 = CKR_OK) unchanged, so that the caller can name
 * it; kms_p11_load alone reports its own failures (KMS_P11_LOAD_*). Nothing here logs or keeps
 * a PIN: kms_p11_login hands it to the module and forgets it.
 *
 * Thread safety is PKCS #11's: after kms_p11_initialize (CKF_OS_LOCKING_OK) any thread may call
 * the module, but one session must not be used by two threads at once (the caller's pool sees to it).
 */

#include <stddef.h>
#include <stdint.h>

/* A loaded module: its dlopen handle and its function list. */
typedef struct kms_p11_module kms_p11_module;

/* kms_p11_load's results. */
#define KMS_P11_LOAD_OK 0
#define KMS_P11_LOAD_NOT_LOADABLE 1   /* dlopen failed: no such file, or not a shared library */
#define KMS_P11_LOAD_NOT_PKCS11 2     /* no C_GetFunctionList symbol */
#define KMS_P11_LOAD_NO_FUNCTIONS 3   /* C_GetFunctionList failed (*rv) or gave no list */
#define KMS_P11_LOAD_OLD_VERSION 4    /* a Cryptoki version before 2.x */

/* Loads the module at `path` and reads its function list. On failure, writes dlerror's text (which
 * names the path, never a secret) into `message` when it fits. */
int kms_p11_load(const char *path, kms_p11_module **module, unsigned long *rv, char *message, size_t message_size);
/* C_Finalize (when initialized) and dlclose. */
void kms_p11_unload(kms_p11_module *module);

/* C_Initialize with CKF_OS_LOCKING_OK; CKR_CRYPTOKI_ALREADY_INITIALIZED counts as success. */
unsigned long kms_p11_initialize(kms_p11_module *module);

/* What KMSPKCS11 reads of a token (CK_TOKEN_INFO), the strings blank-padded as the standard has them. */
typedef struct kms_p11_token_info {
    uint8_t label[32];
    uint8_t manufacturer[32];
    uint8_t model[16];
    uint8_t serial[16];
    unsigned long flags;
} kms_p11_token_info;

/* The slot of the present token whose label is `label` (at most 32 bytes, unpadded); *found 0 when none. */
unsigned long kms_p11_find_slot(
    kms_p11_module *module, const uint8_t *label, size_t label_length, unsigned long *slot, int *found);
unsigned long kms_p11_token_info_of(kms_p11_module *module, unsigned long slot, kms_p11_token_info *info);
/* *supported 1 when the token does `mechanism` for all of `flags` (CKF_ENCRYPT, CKF_GENERATE, ...). */
unsigned long kms_p11_mechanism_supported(
    kms_p11_module *module, unsigned long slot, unsigned long mechanism, unsigned long flags, int *supported);

/* A read/write session; its state (CKS_*) for health checks. */
unsigned long kms_p11_open_session(kms_p11_module *module, unsigned long slot, unsigned long *session);
unsigned long kms_p11_close_session(kms_p11_module *module, unsigned long session);
unsigned long kms_p11_session_state(kms_p11_module *module, unsigned long session, unsigned long *state);

/* C_Login as CKU_USER. */
unsigned long kms_p11_login(kms_p11_module *module, unsigned long session, const uint8_t *pin, size_t pin_length);
unsigned long kms_p11_logout(kms_p11_module *module, unsigned long session);

/* A token object: an AES key of `bytes` bytes, sensitive and never extractable, for encrypt and
 * decrypt only, labelled `label`. */
unsigned long kms_p11_generate_aes_key(
    kms_p11_module *module, unsigned long session, size_t bytes, const uint8_t *label, size_t label_length,
    unsigned long *key);
/* The secret keys labelled `label`: up to `capacity` handles into `keys`, their number in *count. */
unsigned long kms_p11_find_keys(
    kms_p11_module *module, unsigned long session, const uint8_t *label, size_t label_length, unsigned long *keys,
    unsigned long capacity, unsigned long *count);
unsigned long kms_p11_destroy_object(kms_p11_module *module, unsigned long session, unsigned long object);
/* `length` bytes from the token's random number generator (C_GenerateRandom). */
unsigned long kms_p11_generate_random(kms_p11_module *module, unsigned long session, uint8_t *out, size_t length);

/* One CKA_* attribute of CK_BBOOL type. */
unsigned long kms_p11_bool_attribute(
    kms_p11_module *module, unsigned long session, unsigned long object, unsigned long type, int *value);
/* Reads attribute `type` into `out` (at most `capacity` bytes), its length in *length: what a test
 * uses to show that CKA_VALUE stays inside the token. */
unsigned long kms_p11_attribute(
    kms_p11_module *module, unsigned long session, unsigned long object, unsigned long type, uint8_t *out,
    size_t capacity, unsigned long *length);

/* AES-GCM with a 128-bit tag in one call: `out` receives ciphertext then tag (input_length + 16 bytes). */
unsigned long kms_p11_gcm_encrypt(
    kms_p11_module *module, unsigned long session, unsigned long key, const uint8_t *iv, size_t iv_length,
    const uint8_t *aad, size_t aad_length, const uint8_t *input, size_t input_length, uint8_t *out,
    unsigned long *out_length);
/* The reverse: `input` is ciphertext then tag; `out` needs input_length bytes. */
unsigned long kms_p11_gcm_decrypt(
    kms_p11_module *module, unsigned long session, unsigned long key, const uint8_t *iv, size_t iv_length,
    const uint8_t *aad, size_t aad_length, const uint8_t *input, size_t input_length, uint8_t *out,
    unsigned long *out_length);

#endif
