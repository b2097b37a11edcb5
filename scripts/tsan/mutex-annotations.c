// ThreadSanitizer cannot see Synchronization.Mutex synchronize on Linux when it is contended:
// the uncontended lock and unlock are atomics inlined into our (instrumented) code, but the
// contended paths, `_MutexHandle._lockSlow`, `_tryLockSlow` and `_unlockSlow`, run in the
// Swift runtime's uninstrumented library (a spin and a priority-inheritance futex), so two
// critical sections that met there look unordered and every access to the protected value is
// reported as a race. scripts/test-tsan preloads this shim into the processes it tests: it
// stands in for those three functions, calls the real ones, and tells ThreadSanitizer what
// they did (a release before unlocking, an acquire once locked), on the mutex's own address,
// as it does for pthread mutexes. Nothing else changes, so real races are still reported.
//
// The functions use Swift's calling convention: the mutex (self, borrowed) in the swiftself
// register, which clang's swift_context parameter attribute names.
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SWIFTCALL __attribute__((swiftcall))
#define SWIFTSELF __attribute__((swift_context))

// Weak: in a process built without the sanitizer (python, openssl) they are absent, and the
// shim, never called there, does nothing.
extern void __tsan_acquire(void *address) __attribute__((weak));
extern void __tsan_release(void *address) __attribute__((weak));

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

typedef SWIFTCALL void (*LockSlow)(uint32_t selfID, void *SWIFTSELF handle);
typedef SWIFTCALL bool (*TryLockSlow)(void *SWIFTSELF handle);
typedef SWIFTCALL void (*UnlockSlow)(void *SWIFTSELF handle);

static void *real(const char *name) {
    void *function = dlsym(RTLD_NEXT, name);
    if (function == NULL) {
        fprintf(stderr, "mutex-annotations: %s not found: %s\n", name, dlerror());
        abort();
    }
    return function;
}

SWIFTCALL void lockSlow(uint32_t selfID, void *SWIFTSELF handle) __asm__(LOCK_SLOW);
SWIFTCALL void lockSlow(uint32_t selfID, void *SWIFTSELF handle) {
    static LockSlow function;
    if (function == NULL) function = (LockSlow)real(LOCK_SLOW);
    function(selfID, handle);
    if (__tsan_acquire) __tsan_acquire(handle);
}

SWIFTCALL bool tryLockSlow(void *SWIFTSELF handle) __asm__(TRY_LOCK_SLOW);
SWIFTCALL bool tryLockSlow(void *SWIFTSELF handle) {
    static TryLockSlow function;
    if (function == NULL) function = (TryLockSlow)real(TRY_LOCK_SLOW);
    bool locked = function(handle);
    if (locked && __tsan_acquire) __tsan_acquire(handle);
    return locked;
}

SWIFTCALL void unlockSlow(void *SWIFTSELF handle) __asm__(UNLOCK_SLOW);
SWIFTCALL void unlockSlow(void *SWIFTSELF handle) {
    static UnlockSlow function;
    if (function == NULL) function = (UnlockSlow)real(UNLOCK_SLOW);
    if (__tsan_release) __tsan_release(handle);
    function(handle);
}
