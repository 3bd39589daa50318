/* Creating, opening (verify, check rollback, resume, unwrap) and freeing
 * the keyring. */
#include "vault/keyring/keyring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsm/counter.h"
#include "vault/keyring/kr_internal.h"
#include "vault/util/secure_mem.h"

static int label_valid(const char *label) {
  return label != NULL && label[0] != '\0' && strlen(label) <= TV_HSM_LABEL_MAX;
}

static tv_status copy_options(tv_keyring *kr, const tv_keyring_options *o) {
  const char *counter = o->counter_label != NULL ? o->counter_label
                                                 : TV_KEYRING_COUNTER_LABEL_DEFAULT;
  TV_ENSURE(o->path != NULL && o->path[0] != '\0' && strlen(o->path) + 8 < sizeof kr->path,
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE(label_valid(o->mac_label) && label_valid(counter), TV_E_INVALID_ARGUMENT);
  snprintf(kr->path, sizeof kr->path, "%s", o->path);
  snprintf(kr->mac_label, sizeof kr->mac_label, "%s", o->mac_label);
  snprintf(kr->counter_label, sizeof kr->counter_label, "%s", counter);
  kr->encryptions_max =
      o->encryptions_max != 0 ? o->encryptions_max : TV_KEYRING_ENCRYPTIONS_MAX_DEFAULT;
  kr->encryptions_warn =
      o->encryptions_warn != 0 ? o->encryptions_warn : kr->encryptions_max / 4 * 3;
  TV_ENSURE(kr->encryptions_warn <= kr->encryptions_max, TV_E_INVALID_ARGUMENT);
  kr->reserve_block = o->reserve_block != 0 ? o->reserve_block : TV_KEYRING_RESERVE_BLOCK_DEFAULT;
  kr->proposal_ttl_s =
      o->proposal_ttl_s != 0 ? o->proposal_ttl_s : TV_KEYRING_PROPOSAL_TTL_S_DEFAULT;
  kr->step_hook = o->step_hook;
  kr->step_hook_ctx = o->step_hook_ctx;
  if (o->persist != NULL) {
    TV_ENSURE(o->persist->load != NULL && o->persist->store != NULL && o->persist->generation != NULL,
              TV_E_INVALID_ARGUMENT);
    kr->has_persist = 1;
    kr->persist = *o->persist;
    kr->refresh_ms = o->refresh_ms;
  }
  return TV_OK;
}

static tv_status keyring_new(tv_keyring **out, tv_hsm *hsm, const tv_keyring_options *options) {
  TV_ENSURE(out != NULL && hsm != NULL && options != NULL, TV_E_INVALID_ARGUMENT);
  *out = NULL;
  tv_keyring *kr = calloc(1, sizeof *kr);
  TV_ENSURE(kr != NULL, TV_E_NO_MEMORY);
  kr->hsm = hsm;
  kr->lock_fd = -1;
  pthread_mutex_init(&kr->mu, NULL);
  pthread_rwlock_init(&kr->rw, NULL);
  pthread_mutex_init(&kr->stop_mu, NULL);
  pthread_cond_init(&kr->stop_cv, NULL);
  tv_status status = copy_options(kr, options);
  /* A shared document has many users by design: no lock file. */
  if (status == TV_OK && !kr->has_persist) {
    status = kr_io_lock(&kr->lock_fd, kr->path);
  }
  if (status != TV_OK) {
    tv_keyring_free(kr);
    return status;
  }
  *out = kr;
  return TV_OK;
}

void tv_keyring_free(tv_keyring *keyring) {
  if (keyring == NULL) {
    return;
  }
  kr_refresher_stop(keyring);
  for (uint32_t i = 0; i < keyring->num_namespaces; i++) {
    kr_namespace_free(keyring->namespaces[i]);
  }
  kr_file_free(&keyring->file);
  if (keyring->lock_fd >= 0) {
    close(keyring->lock_fd);
  }
  pthread_mutex_destroy(&keyring->mu);
  pthread_rwlock_destroy(&keyring->rw);
  pthread_mutex_destroy(&keyring->stop_mu);
  pthread_cond_destroy(&keyring->stop_cv);
  free(keyring);
}

/* A new keyring starts at the HSM counter's value, so an old keyring's
 * counter left on the token never makes the new file look like a rollback. */
static tv_status create_first(tv_keyring *kr, const char *kek_label) {
  TV_TRY(tv_hsm_kek_ensure(kr->hsm, kek_label, 0));
  TV_TRY(tv_hsm_mac_key_ensure(kr->hsm, kr->mac_label, 0));
  uint64_t counter = 0;
  tv_status status = tv_hsm_counter_read(kr->hsm, &counter, kr->counter_label);
  if (status == TV_E_HSM_KEY_NOT_FOUND) {
    status = tv_hsm_counter_advance(kr->hsm, kr->counter_label, 0, 1);
  }
  TV_TRY(status);
  kr->file.generation = counter;
  snprintf(kr->file.kek_label, sizeof kr->file.kek_label, "%s", kek_label);
  kr->file.next_proposal_id = 1;
  kr_file next;
  TV_TRY(kr_file_clone(&next, &kr->file));
  return kr_commit(kr, &next);
}

/* TV_OK if there is no document yet, TV_E_KEYRING_EXISTS if there is. */
static tv_status document_absent(tv_keyring *kr) {
  if (!kr->has_persist) {
    struct stat st;
    return lstat(kr->path, &st) == 0 ? TV_E_KEYRING_EXISTS : TV_OK;
  }
  uint64_t generation = 0;
  tv_status status = kr->persist.generation(kr->persist.ctx, &generation);
  TV_ENSURE(status != TV_OK, TV_E_KEYRING_EXISTS);
  return status == TV_E_KEYRING_NOT_FOUND ? TV_OK : status;
}

tv_status tv_keyring_create(tv_keyring **out_keyring, tv_hsm *hsm,
                            const tv_keyring_options *options) {
  TV_ENSURE(options != NULL && label_valid(options->kek_label), TV_E_INVALID_ARGUMENT);
  tv_keyring *kr = NULL;
  TV_TRY(keyring_new(&kr, hsm, options));
  tv_status status = document_absent(kr);
  if (status == TV_OK) {
    status = create_first(kr, options->kek_label);
  }
  if (status == TV_OK) {
    status = kr_refresher_start(kr);
  }
  if (status != TV_OK) {
    tv_keyring_free(kr);
    return status;
  }
  *out_keyring = kr;
  return TV_OK;
}

/* Loads, verifies and parses the document into kr->file, and checks its
 * generation against the HSM. A shared document may move on between the
 * load and the counter check (another node committed and raised the
 * counter): that looks like a rollback once, so it is read again; a real
 * old copy put back stays older than the counter and is refused. */
static tv_status load_file(tv_keyring *kr) {
  tv_status status = TV_E_KEYRING_ROLLBACK;
  for (int attempt = 0; attempt < 3 && status == TV_E_KEYRING_ROLLBACK; attempt++) {
    kr_file_free(&kr->file);
    uint8_t *buf = NULL;
    size_t len = 0;
    TV_TRY(kr_doc_load(kr, &buf, &len));
    status = kr_doc_verify(kr, &kr->file, buf, len);
    free(buf);
    TV_TRY(status);
    status = kr_check_generation(kr, kr->file.generation);
    if (!kr->has_persist) {
      break;
    }
  }
  return status;
}

static tv_status open_steps(tv_keyring *kr) {
  TV_TRY(load_file(kr));
  kr->stored = 1;
  TV_TRY(kr_runtime_build(kr));
  if (kr->file.pending != KR_PENDING_NONE) {
    pthread_mutex_lock(&kr->mu);
    tv_status status = kr_kek_resume(kr);
    pthread_mutex_unlock(&kr->mu);
    TV_TRY(status);
  }
  return TV_OK;
}

tv_status tv_keyring_open(tv_keyring **out_keyring, tv_hsm *hsm,
                          const tv_keyring_options *options) {
  tv_keyring *kr = NULL;
  TV_TRY(keyring_new(&kr, hsm, options));
  if (!kr->has_persist) {
    /* A temp file is a write that never got renamed: it is not the keyring. */
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", kr->path);
    unlink(tmp);
  }
  tv_status status = open_steps(kr);
  if (status == TV_OK) {
    status = kr_refresher_start(kr);
  }
  if (status != TV_OK) {
    tv_keyring_free(kr);
    return status;
  }
  *out_keyring = kr;
  return TV_OK;
}
