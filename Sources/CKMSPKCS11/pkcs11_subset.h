#ifndef KMS_PKCS11_SUBSET_H
#define KMS_PKCS11_SUBSET_H

/*
 * The part of PKCS #11 v2.40 (OASIS, "PKCS #11 Cryptographic Token Interface Base Specification
 * Version 2.40", section 3 and the pkcs11t.h/pkcs11f.h it publishes) that kms_pkcs11.c uses,
 * written out here so that the build needs no vendor's or p11-kit's header. Unix conventions:
 * CK_ULONG is unsigned long, structures are not packed, CK_PTR is a plain pointer.
 *
 * CK_FUNCTION_LIST must match the standard's order exactly: a module hands us a table of
 * function pointers and we index it by position. The entries we never call are `void *` (the
 * same size as a function pointer on every platform we build for), named for the slot they fill.
 */

#include <stddef.h>

typedef unsigned long CK_ULONG;
typedef unsigned char CK_BYTE;
typedef unsigned char CK_BBOOL;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_FLAGS;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef CK_ULONG CK_OBJECT_CLASS;
typedef CK_ULONG CK_KEY_TYPE;
typedef CK_ULONG CK_ATTRIBUTE_TYPE;
typedef CK_ULONG CK_MECHANISM_TYPE;
typedef CK_ULONG CK_USER_TYPE;
typedef CK_ULONG CK_STATE;
typedef CK_ULONG CK_NOTIFICATION;

#define CK_TRUE 1
#define CK_FALSE 0
#define CK_UNAVAILABLE_INFORMATION (~0UL)

typedef struct CK_VERSION {
    CK_BYTE major;
    CK_BYTE minor;
} CK_VERSION;

typedef struct CK_TOKEN_INFO {
    CK_BYTE label[32];
    CK_BYTE manufacturerID[32];
    CK_BYTE model[16];
    CK_BYTE serialNumber[16];
    CK_FLAGS flags;
    CK_ULONG ulMaxSessionCount;
    CK_ULONG ulSessionCount;
    CK_ULONG ulMaxRwSessionCount;
    CK_ULONG ulRwSessionCount;
    CK_ULONG ulMaxPinLen;
    CK_ULONG ulMinPinLen;
    CK_ULONG ulTotalPublicMemory;
    CK_ULONG ulFreePublicMemory;
    CK_ULONG ulTotalPrivateMemory;
    CK_ULONG ulFreePrivateMemory;
    CK_VERSION hardwareVersion;
    CK_VERSION firmwareVersion;
    CK_BYTE utcTime[16];
} CK_TOKEN_INFO;

typedef struct CK_SESSION_INFO {
    CK_SLOT_ID slotID;
    CK_STATE state;
    CK_FLAGS flags;
    CK_ULONG ulDeviceError;
} CK_SESSION_INFO;

typedef struct CK_MECHANISM_INFO {
    CK_ULONG ulMinKeySize;
    CK_ULONG ulMaxKeySize;
    CK_FLAGS flags;
} CK_MECHANISM_INFO;

typedef struct CK_ATTRIBUTE {
    CK_ATTRIBUTE_TYPE type;
    void *pValue;
    CK_ULONG ulValueLen;
} CK_ATTRIBUTE;

typedef struct CK_MECHANISM {
    CK_MECHANISM_TYPE mechanism;
    void *pParameter;
    CK_ULONG ulParameterLen;
} CK_MECHANISM;

/* v2.40 errata and v3.0 have ulIvBits; some modules read it and some ignore it, so we set both. */
typedef struct CK_GCM_PARAMS {
    CK_BYTE *pIv;
    CK_ULONG ulIvLen;
    CK_ULONG ulIvBits;
    CK_BYTE *pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulTagBits;
} CK_GCM_PARAMS;

typedef CK_RV (*CK_CREATEMUTEX)(void **ppMutex);
typedef CK_RV (*CK_DESTROYMUTEX)(void *pMutex);
typedef CK_RV (*CK_LOCKMUTEX)(void *pMutex);
typedef CK_RV (*CK_UNLOCKMUTEX)(void *pMutex);

typedef struct CK_C_INITIALIZE_ARGS {
    CK_CREATEMUTEX CreateMutex;
    CK_DESTROYMUTEX DestroyMutex;
    CK_LOCKMUTEX LockMutex;
    CK_UNLOCKMUTEX UnlockMutex;
    CK_FLAGS flags;
    void *pReserved;
} CK_C_INITIALIZE_ARGS;

typedef CK_RV (*CK_NOTIFY)(CK_SESSION_HANDLE hSession, CK_NOTIFICATION event, void *pApplication);

typedef struct CK_FUNCTION_LIST CK_FUNCTION_LIST;

struct CK_FUNCTION_LIST {
    CK_VERSION version;
    CK_RV (*C_Initialize)(void *pInitArgs);
    CK_RV (*C_Finalize)(void *pReserved);
    void *C_GetInfo;
    CK_RV (*C_GetFunctionList)(CK_FUNCTION_LIST **ppFunctionList);
    CK_RV (*C_GetSlotList)(CK_BBOOL tokenPresent, CK_SLOT_ID *pSlotList, CK_ULONG *pulCount);
    void *C_GetSlotInfo;
    CK_RV (*C_GetTokenInfo)(CK_SLOT_ID slotID, CK_TOKEN_INFO *pInfo);
    void *C_GetMechanismList;
    CK_RV (*C_GetMechanismInfo)(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *pInfo);
    void *C_InitToken;
    void *C_InitPIN;
    void *C_SetPIN;
    CK_RV (*C_OpenSession)(
        CK_SLOT_ID slotID, CK_FLAGS flags, void *pApplication, CK_NOTIFY Notify, CK_SESSION_HANDLE *phSession);
    CK_RV (*C_CloseSession)(CK_SESSION_HANDLE hSession);
    void *C_CloseAllSessions;
    CK_RV (*C_GetSessionInfo)(CK_SESSION_HANDLE hSession, CK_SESSION_INFO *pInfo);
    void *C_GetOperationState;
    void *C_SetOperationState;
    CK_RV (*C_Login)(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_BYTE *pPin, CK_ULONG ulPinLen);
    CK_RV (*C_Logout)(CK_SESSION_HANDLE hSession);
    void *C_CreateObject;
    void *C_CopyObject;
    CK_RV (*C_DestroyObject)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject);
    void *C_GetObjectSize;
    CK_RV (*C_GetAttributeValue)(
        CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE *pTemplate, CK_ULONG ulCount);
    void *C_SetAttributeValue;
    CK_RV (*C_FindObjectsInit)(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE *pTemplate, CK_ULONG ulCount);
    CK_RV (*C_FindObjects)(
        CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE *phObject, CK_ULONG ulMaxObjectCount, CK_ULONG *pulObjectCount);
    CK_RV (*C_FindObjectsFinal)(CK_SESSION_HANDLE hSession);
    CK_RV (*C_EncryptInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM *pMechanism, CK_OBJECT_HANDLE hKey);
    CK_RV (*C_Encrypt)(
        CK_SESSION_HANDLE hSession, CK_BYTE *pData, CK_ULONG ulDataLen, CK_BYTE *pEncryptedData,
        CK_ULONG *pulEncryptedDataLen);
    void *C_EncryptUpdate;
    void *C_EncryptFinal;
    CK_RV (*C_DecryptInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM *pMechanism, CK_OBJECT_HANDLE hKey);
    CK_RV (*C_Decrypt)(
        CK_SESSION_HANDLE hSession, CK_BYTE *pEncryptedData, CK_ULONG ulEncryptedDataLen, CK_BYTE *pData,
        CK_ULONG *pulDataLen);
    void *C_DecryptUpdate;
    void *C_DecryptFinal;
    void *C_DigestInit;
    void *C_Digest;
    void *C_DigestUpdate;
    void *C_DigestKey;
    void *C_DigestFinal;
    void *C_SignInit;
    void *C_Sign;
    void *C_SignUpdate;
    void *C_SignFinal;
    void *C_SignRecoverInit;
    void *C_SignRecover;
    void *C_VerifyInit;
    void *C_Verify;
    void *C_VerifyUpdate;
    void *C_VerifyFinal;
    void *C_VerifyRecoverInit;
    void *C_VerifyRecover;
    void *C_DigestEncryptUpdate;
    void *C_DecryptDigestUpdate;
    void *C_SignEncryptUpdate;
    void *C_DecryptVerifyUpdate;
    CK_RV (*C_GenerateKey)(
        CK_SESSION_HANDLE hSession, CK_MECHANISM *pMechanism, CK_ATTRIBUTE *pTemplate, CK_ULONG ulCount,
        CK_OBJECT_HANDLE *phKey);
    void *C_GenerateKeyPair;
    void *C_WrapKey;
    void *C_UnwrapKey;
    void *C_DeriveKey;
    void *C_SeedRandom;
    CK_RV (*C_GenerateRandom)(CK_SESSION_HANDLE hSession, CK_BYTE *pRandomData, CK_ULONG ulRandomLen);
    void *C_GetFunctionStatus;
    void *C_CancelFunction;
    void *C_WaitForSlotEvent;
};

typedef CK_RV (*CK_C_GetFunctionList)(CK_FUNCTION_LIST **ppFunctionList);

/* Return values (CKR_*) are listed, with their names, in the Swift wrapper (PKCS11ReturnValue.swift). */
#define CKR_OK 0x00UL
#define CKR_HOST_MEMORY 0x02UL
#define CKR_ARGUMENTS_BAD 0x07UL
#define CKR_ATTRIBUTE_SENSITIVE 0x11UL
#define CKR_BUFFER_TOO_SMALL 0x150UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL

#define CKO_SECRET_KEY 0x04UL
#define CKK_AES 0x1FUL

#define CKA_CLASS 0x00UL
#define CKA_TOKEN 0x01UL
#define CKA_PRIVATE 0x02UL
#define CKA_LABEL 0x03UL
#define CKA_VALUE 0x11UL
#define CKA_KEY_TYPE 0x100UL
#define CKA_SENSITIVE 0x103UL
#define CKA_ENCRYPT 0x104UL
#define CKA_DECRYPT 0x105UL
#define CKA_WRAP 0x106UL
#define CKA_UNWRAP 0x107UL
#define CKA_SIGN 0x108UL
#define CKA_VERIFY 0x10AUL
#define CKA_DERIVE 0x10CUL
#define CKA_VALUE_LEN 0x161UL
#define CKA_EXTRACTABLE 0x162UL

#define CKM_AES_KEY_GEN 0x1080UL
#define CKM_AES_GCM 0x1087UL

#define CKU_USER 1UL
#define CKF_RW_SESSION 0x02UL
#define CKF_SERIAL_SESSION 0x04UL
#define CKF_OS_LOCKING_OK 0x02UL

#endif
