/* Module loading and token lookup. */
#include "hsm/module.h"

#include <assert.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A process rarely loads more than one or two modules. */
#define HSM_MODULES_MAX 8
/* Bound on the slots we look at; real HSMs expose a handful. */
#define HSM_SLOTS_MAX 256
#define HSM_PATH_MAX 4096

struct hsm_module {
  char path[HSM_PATH_MAX];
  void *dl;
  CK_FUNCTION_LIST *p11;
  unsigned refs;
};

static pthread_mutex_t modules_mu = PTHREAD_MUTEX_INITIALIZER;
static hsm_module modules[HSM_MODULES_MAX];

static tv_status module_initialize(hsm_module *module) {
  CK_C_INITIALIZE_ARGS args;
  memset(&args, 0, sizeof args);
  /* The pool calls the module from many threads: let it use native locks. */
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = module->p11->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return rv == CKR_HOST_MEMORY ? hsm_fail("C_Initialize", rv)
                                 : hsm_failf(TV_E_HSM_MODULE, "C_Initialize of %s: %s (0x%lx)",
                                             module->path, hsm_ckr_name(rv), (unsigned long)rv);
  }
  return TV_OK;
}

static tv_status module_load(hsm_module *module, const char *path) {
  /* RTLD_NODELETE: modules such as SoftHSM2 register atexit handlers and
   * OpenSSL state; unmapping them on release would leave dangling code. */
  void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (dl == NULL) {
    return hsm_failf(TV_E_HSM_MODULE, "dlopen %s: %s", path, dlerror());
  }
  CK_C_GetFunctionList get_list = NULL;
  void *sym = dlsym(dl, "C_GetFunctionList");
  memcpy(&get_list, &sym, sizeof get_list); /* object → function pointer */
  CK_FUNCTION_LIST *p11 = NULL;
  if (get_list == NULL || get_list(&p11) != CKR_OK || p11 == NULL) {
    dlclose(dl);
    return hsm_failf(TV_E_HSM_MODULE, "%s is not a PKCS#11 module (no C_GetFunctionList)", path);
  }
  if (p11->version.major != 2) {
    dlclose(dl);
    return hsm_failf(TV_E_HSM_MODULE, "%s implements PKCS#11 %u.%u; 2.x is required", path,
                     p11->version.major, p11->version.minor);
  }
  snprintf(module->path, sizeof module->path, "%s", path);
  module->dl = dl;
  module->p11 = p11;
  tv_status status = module_initialize(module);
  if (status != TV_OK) {
    dlclose(dl);
    memset(module, 0, sizeof *module);
    return status;
  }
  module->refs = 1;
  return TV_OK;
}

tv_status hsm_module_acquire(hsm_module **out_module, const char *path) {
  *out_module = NULL;
  TV_ENSURE(path != NULL && path[0] != '\0', TV_E_INVALID_ARGUMENT);
  TV_ENSURE(strlen(path) < HSM_PATH_MAX, hsm_failf(TV_E_HSM_MODULE, "module path too long"));
  pthread_mutex_lock(&modules_mu);
  hsm_module *free_slot = NULL;
  tv_status status = TV_OK;
  for (size_t i = 0; i < HSM_MODULES_MAX; i++) {
    if (modules[i].refs > 0 && strcmp(modules[i].path, path) == 0) {
      modules[i].refs++;
      *out_module = &modules[i];
      break;
    }
    if (modules[i].refs == 0 && free_slot == NULL) {
      free_slot = &modules[i];
    }
  }
  if (*out_module == NULL) {
    if (free_slot == NULL) {
      status = hsm_failf(TV_E_HSM_MODULE, "more than %d PKCS#11 modules loaded", HSM_MODULES_MAX);
    } else if ((status = module_load(free_slot, path)) == TV_OK) {
      *out_module = free_slot;
    }
  }
  pthread_mutex_unlock(&modules_mu);
  return status;
}

void hsm_module_release(hsm_module *module) {
  if (module == NULL) {
    return;
  }
  pthread_mutex_lock(&modules_mu);
  assert(module->refs > 0);
  if (--module->refs == 0) {
    module->p11->C_Finalize(NULL);
    dlclose(module->dl);
    memset(module, 0, sizeof *module);
  }
  pthread_mutex_unlock(&modules_mu);
}

CK_FUNCTION_LIST *hsm_module_functions(const hsm_module *module) { return module->p11; }

tv_status hsm_module_reinitialize(hsm_module *module) {
  pthread_mutex_lock(&modules_mu);
  tv_status status = module_initialize(module);
  pthread_mutex_unlock(&modules_mu);
  return status;
}

tv_status hsm_module_reset(hsm_module *module) {
  pthread_mutex_lock(&modules_mu);
  tv_status status = TV_E_HSM_UNAVAILABLE;
  if (module->refs == 1) {
    module->p11->C_Finalize(NULL);
    status = module_initialize(module);
  }
  pthread_mutex_unlock(&modules_mu);
  return status;
}

int hsm_pad_field(unsigned char *out, size_t out_len, const char *text) {
  size_t len = strlen(text);
  if (len > out_len) {
    return 0;
  }
  memset(out, ' ', out_len);
  memcpy(out, text, len);
  return 1;
}

static int token_matches(const CK_TOKEN_INFO *info, const char *label, const char *serial) {
  unsigned char want[32];
  if ((info->flags & CKF_TOKEN_INITIALIZED) == 0) {
    return 0;
  }
  if (serial != NULL) {
    return hsm_pad_field(want, sizeof info->serialNumber, serial) &&
           memcmp(want, info->serialNumber, sizeof info->serialNumber) == 0;
  }
  return hsm_pad_field(want, sizeof info->label, label) &&
         memcmp(want, info->label, sizeof info->label) == 0;
}

tv_status hsm_find_token(CK_FUNCTION_LIST *p11, CK_SLOT_ID *out_slot, CK_RV *out_rv,
                         const char *label, const char *serial) {
  assert(label != NULL || serial != NULL);
  CK_SLOT_ID slots[HSM_SLOTS_MAX];
  CK_ULONG count = HSM_SLOTS_MAX;
  CK_RV rv = p11->C_GetSlotList(CK_TRUE, slots, &count);
  if (rv != CKR_OK) {
    *out_rv = rv;
    return hsm_fail("C_GetSlotList", rv);
  }
  for (CK_ULONG i = 0; i < count; i++) {
    CK_TOKEN_INFO info;
    rv = p11->C_GetTokenInfo(slots[i], &info);
    if (rv == CKR_OK && token_matches(&info, label, serial)) {
      *out_slot = slots[i];
      return TV_OK;
    }
    if (rv != CKR_OK && rv != CKR_TOKEN_NOT_PRESENT && rv != CKR_TOKEN_NOT_RECOGNIZED) {
      *out_rv = rv;
      return hsm_fail("C_GetTokenInfo", rv);
    }
  }
  return hsm_failf(TV_E_HSM_TOKEN_NOT_FOUND, "no initialised token with %s '%s' among %lu slots",
                   serial != NULL ? "serial" : "label", serial != NULL ? serial : label,
                   (unsigned long)count);
}
