#include "kms_pkcs11.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11_subset.h"

struct kms_p11_module {
    void *library;
    CK_FUNCTION_LIST *functions;
    int initialized;
};

/* Swift hands a NULL base address for an empty buffer; some modules reject NULL with a length of 0. */
static CK_BYTE kms_p11_empty[1] = {0};
#define NZ(p) ((p) != NULL ? (CK_BYTE *)(p) : kms_p11_empty)

static void write_message(char *message, size_t size, const char *text) {
    if (message == NULL || size == 0) return;
    snprintf(message, size, "%s", text != NULL ? text : "");
}

int kms_p11_load(const char *path, kms_p11_module **module, unsigned long *rv, char *message, size_t message_size) {
    *module = NULL;
    *rv = CKR_OK;
    write_message(message, message_size, "");
    /* RTLD_LOCAL: a vendor's symbols never interpose on ours or on another module's. */
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        write_message(message, message_size, dlerror());
        return KMS_P11_LOAD_NOT_LOADABLE;
    }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(library, "C_GetFunctionList");
    if (get == NULL) {
        write_message(message, message_size, "the library has no C_GetFunctionList");
        dlclose(library);
        return KMS_P11_LOAD_NOT_PKCS11;
    }
    CK_FUNCTION_LIST *functions = NULL;
    CK_RV result = get(&functions);
    if (result != CKR_OK || functions == NULL) {
        *rv = result;
        dlclose(library);
        return KMS_P11_LOAD_NO_FUNCTIONS;
    }
    if (functions->version.major < 2) {
        dlclose(library);
        return KMS_P11_LOAD_OLD_VERSION;
    }
    kms_p11_module *loaded = calloc(1, sizeof(*loaded));
    if (loaded == NULL) {
        dlclose(library);
        *rv = CKR_HOST_MEMORY;
        return KMS_P11_LOAD_NO_FUNCTIONS;
    }
    loaded->library = library;
    loaded->functions = functions;
    *module = loaded;
    return KMS_P11_LOAD_OK;
}

void kms_p11_unload(kms_p11_module *module) {
    if (module == NULL) return;
    if (module->initialized) module->functions->C_Finalize(NULL);
    dlclose(module->library);
    free(module);
}

unsigned long kms_p11_initialize(kms_p11_module *module) {
    /* The module makes its own locks (the operating system's): no callbacks of ours run inside it. */
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = module->functions->C_Initialize(&args);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) rv = CKR_OK;
    if (rv == CKR_OK) module->initialized = 1;
    return rv;
}

/* The standard's labels are 32 bytes padded with blanks; `label` is unpadded. */
static int label_matches(const CK_BYTE padded[32], const uint8_t *label, size_t length) {
    if (length > 32) return 0;
    if (length > 0 && memcmp(padded, label, length) != 0) return 0;
    for (size_t i = length; i < 32; i++) {
        if (padded[i] != ' ') return 0;
    }
    return 1;
}

unsigned long kms_p11_find_slot(
    kms_p11_module *module, const uint8_t *label, size_t label_length, unsigned long *slot, int *found) {
    *found = 0;
    CK_ULONG count = 0;
    CK_RV rv = module->functions->C_GetSlotList(CK_TRUE, NULL, &count);
    if (rv != CKR_OK || count == 0) return rv;
    /* Tokens may appear between the two calls: retry on CKR_BUFFER_TOO_SMALL with the new count. */
    CK_SLOT_ID *slots = NULL;
    for (int attempt = 0; attempt < 4; attempt++) {
        free(slots);
        slots = calloc(count + 1, sizeof(CK_SLOT_ID));
        if (slots == NULL) return CKR_HOST_MEMORY;
        rv = module->functions->C_GetSlotList(CK_TRUE, slots, &count);
        if (rv != CKR_BUFFER_TOO_SMALL) break;
    }
    if (rv != CKR_OK) {
        free(slots);
        return rv;
    }
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        memset(&info, 0, sizeof(info));
        /* A slot whose token went away meanwhile is not ours: skip it rather than fail. */
        if (module->functions->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
        if (label_matches(info.label, label, label_length)) {
            *slot = slots[i];
            *found = 1;
            break;
        }
    }
    free(slots);
    return CKR_OK;
}

unsigned long kms_p11_token_info_of(kms_p11_module *module, unsigned long slot, kms_p11_token_info *out) {
    CK_TOKEN_INFO info;
    memset(&info, 0, sizeof(info));
    CK_RV rv = module->functions->C_GetTokenInfo(slot, &info);
    if (rv != CKR_OK) return rv;
    memcpy(out->label, info.label, sizeof(out->label));
    memcpy(out->manufacturer, info.manufacturerID, sizeof(out->manufacturer));
    memcpy(out->model, info.model, sizeof(out->model));
    memcpy(out->serial, info.serialNumber, sizeof(out->serial));
    out->flags = info.flags;
    return CKR_OK;
}

unsigned long kms_p11_mechanism_supported(
    kms_p11_module *module, unsigned long slot, unsigned long mechanism, unsigned long flags, int *supported) {
    *supported = 0;
    CK_MECHANISM_INFO info;
    memset(&info, 0, sizeof(info));
    CK_RV rv = module->functions->C_GetMechanismInfo(slot, mechanism, &info);
    /* CKR_MECHANISM_INVALID (0x70) is an answer, not a failure. */
    if (rv == 0x70UL) return CKR_OK;
    if (rv != CKR_OK) return rv;
    *supported = (info.flags & flags) == flags;
    return CKR_OK;
}

unsigned long kms_p11_open_session(kms_p11_module *module, unsigned long slot, unsigned long *session) {
    CK_SESSION_HANDLE handle = 0;
    CK_RV rv = module->functions->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &handle);
    *session = handle;
    return rv;
}

unsigned long kms_p11_close_session(kms_p11_module *module, unsigned long session) {
    return module->functions->C_CloseSession(session);
}

unsigned long kms_p11_session_state(kms_p11_module *module, unsigned long session, unsigned long *state) {
    CK_SESSION_INFO info;
    memset(&info, 0, sizeof(info));
    CK_RV rv = module->functions->C_GetSessionInfo(session, &info);
    *state = info.state;
    return rv;
}

unsigned long kms_p11_login(kms_p11_module *module, unsigned long session, const uint8_t *pin, size_t pin_length) {
    return module->functions->C_Login(session, CKU_USER, NZ(pin), pin_length);
}

unsigned long kms_p11_logout(kms_p11_module *module, unsigned long session) {
    return module->functions->C_Logout(session);
}

unsigned long kms_p11_generate_aes_key(
    kms_p11_module *module, unsigned long session, size_t bytes, const uint8_t *label, size_t label_length,
    unsigned long *key) {
    CK_OBJECT_CLASS class = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ULONG length = bytes;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    /* Persistent, private (login needed to see it), sensitive and never extractable; encrypt and
     * decrypt only, so it can neither wrap another key out of the token nor be wrapped out itself. */
    CK_ATTRIBUTE template[] = {
        {CKA_CLASS, &class, sizeof(class)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_VALUE_LEN, &length, sizeof(length)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},
        {CKA_WRAP, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},
        {CKA_SIGN, &no, sizeof(no)},
        {CKA_VERIFY, &no, sizeof(no)},
        {CKA_DERIVE, &no, sizeof(no)},
        {CKA_LABEL, NZ(label), label_length},
    };
    CK_MECHANISM mechanism = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE handle = 0;
    CK_RV rv = module->functions->C_GenerateKey(
        session, &mechanism, template, sizeof(template) / sizeof(template[0]), &handle);
    *key = handle;
    return rv;
}

unsigned long kms_p11_find_keys(
    kms_p11_module *module, unsigned long session, const uint8_t *label, size_t label_length, unsigned long *keys,
    unsigned long capacity, unsigned long *count) {
    *count = 0;
    CK_OBJECT_CLASS class = CKO_SECRET_KEY;
    CK_ATTRIBUTE template[] = {
        {CKA_CLASS, &class, sizeof(class)},
        {CKA_LABEL, NZ(label), label_length},
    };
    CK_RV rv = module->functions->C_FindObjectsInit(session, template, 2);
    if (rv != CKR_OK) return rv;
    CK_ULONG found = 0;
    rv = module->functions->C_FindObjects(session, keys, capacity, &found);
    /* Always end the search, or the session stays busy with it. */
    CK_RV final = module->functions->C_FindObjectsFinal(session);
    if (rv == CKR_OK) rv = final;
    *count = found;
    return rv;
}

unsigned long kms_p11_generate_random(kms_p11_module *module, unsigned long session, uint8_t *out, size_t length) {
    return module->functions->C_GenerateRandom(session, out, length);
}

unsigned long kms_p11_destroy_object(kms_p11_module *module, unsigned long session, unsigned long object) {
    return module->functions->C_DestroyObject(session, object);
}

unsigned long kms_p11_bool_attribute(
    kms_p11_module *module, unsigned long session, unsigned long object, unsigned long type, int *value) {
    CK_BBOOL flag = CK_FALSE;
    CK_ATTRIBUTE attribute = {type, &flag, sizeof(flag)};
    CK_RV rv = module->functions->C_GetAttributeValue(session, object, &attribute, 1);
    *value = flag == CK_TRUE;
    return rv;
}

unsigned long kms_p11_attribute(
    kms_p11_module *module, unsigned long session, unsigned long object, unsigned long type, uint8_t *out,
    size_t capacity, unsigned long *length) {
    CK_ATTRIBUTE attribute = {type, out, capacity};
    CK_RV rv = module->functions->C_GetAttributeValue(session, object, &attribute, 1);
    *length = attribute.ulValueLen;
    return rv;
}

static CK_RV gcm_init(
    kms_p11_module *module, unsigned long session, unsigned long key, const uint8_t *iv, size_t iv_length,
    const uint8_t *aad, size_t aad_length, CK_GCM_PARAMS *params, CK_MECHANISM *mechanism, int encrypt) {
    memset(params, 0, sizeof(*params));
    params->pIv = NZ(iv);
    params->ulIvLen = iv_length;
    params->ulIvBits = iv_length * 8;
    params->pAAD = NZ(aad);
    params->ulAADLen = aad_length;
    params->ulTagBits = 128;
    mechanism->mechanism = CKM_AES_GCM;
    mechanism->pParameter = params;
    mechanism->ulParameterLen = sizeof(*params);
    return encrypt ? module->functions->C_EncryptInit(session, mechanism, key)
                   : module->functions->C_DecryptInit(session, mechanism, key);
}

unsigned long kms_p11_gcm_encrypt(
    kms_p11_module *module, unsigned long session, unsigned long key, const uint8_t *iv, size_t iv_length,
    const uint8_t *aad, size_t aad_length, const uint8_t *input, size_t input_length, uint8_t *out,
    unsigned long *out_length) {
    CK_GCM_PARAMS params;
    CK_MECHANISM mechanism;
    CK_RV rv = gcm_init(module, session, key, iv, iv_length, aad, aad_length, &params, &mechanism, 1);
    if (rv != CKR_OK) return rv;
    /* `out` is sized for ciphertext and tag, so CKR_BUFFER_TOO_SMALL (which would leave the
     * operation active) cannot happen; any other failure ends the operation by the standard. */
    CK_ULONG length = *out_length;
    rv = module->functions->C_Encrypt(session, NZ(input), input_length, out, &length);
    *out_length = length;
    return rv;
}

unsigned long kms_p11_gcm_decrypt(
    kms_p11_module *module, unsigned long session, unsigned long key, const uint8_t *iv, size_t iv_length,
    const uint8_t *aad, size_t aad_length, const uint8_t *input, size_t input_length, uint8_t *out,
    unsigned long *out_length) {
    CK_GCM_PARAMS params;
    CK_MECHANISM mechanism;
    CK_RV rv = gcm_init(module, session, key, iv, iv_length, aad, aad_length, &params, &mechanism, 0);
    if (rv != CKR_OK) return rv;
    CK_ULONG length = *out_length;
    rv = module->functions->C_Decrypt(session, NZ(input), input_length, NZ(out), &length);
    *out_length = length;
    return rv;
}
