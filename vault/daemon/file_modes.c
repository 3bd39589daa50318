#include "vault/daemon/file_modes.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/service/log.h"

/* The group bits count only when the group is not tokenvaultd's own. */
static mode_t foreign_bits(mode_t mode, gid_t gid, const tv_mode_owner *self) {
  mode_t bits = mode & S_IRWXO;
  if (gid != self->gid) {
    bits |= (mode & S_IRWXG) >> 3;
  }
  return bits; /* in the "others" positions: S_IROTH, S_IWOTH, S_IXOTH */
}

static const char *who(mode_t mode, gid_t gid, const tv_mode_owner *self, mode_t other_bit) {
  int by_others = (mode & other_bit) != 0;
  int by_group = gid != self->gid && (mode & (other_bit << 3)) != 0;
  return by_others && by_group ? "group and others" : by_others ? "others" : "its group";
}

static const char *fix_for(tv_path_kind kind) {
  switch (kind) {
    case TV_PATH_SECRET: return "chmod 600 (or 640 with tokenvaultd's own group)";
    case TV_PATH_DIR: return "chmod 700 (or 750/770 with tokenvaultd's own group)";
    default: return "chmod 644 (or 640), owned by root or tokenvaultd's user";
  }
}

tv_mode_verdict tv_mode_judge(const char *what, const char *path, tv_path_kind kind, mode_t mode, uid_t uid,
                              gid_t gid, const tv_mode_owner *self, char *out_err, size_t out_err_len) {
  assert(what != NULL && path != NULL && self != NULL);
  unsigned perm = (unsigned)(mode & 07777);
  if (uid != 0 && uid != self->uid) {
    snprintf(out_err, out_err_len, "%s %s is owned by uid %u, neither root nor tokenvaultd's user (uid %u): "
             "another user could change it; chown it", what, path, (unsigned)uid, (unsigned)self->uid);
    return TV_MODE_REFUSED;
  }
  mode_t foreign = foreign_bits(mode, gid, self);
  if (kind != TV_PATH_DIR && (foreign & S_IWOTH) != 0) {
    snprintf(out_err, out_err_len, "%s %s is mode %04o: writable by %s; %s", what, path, perm,
             who(mode, gid, self, S_IWOTH), fix_for(kind));
    return TV_MODE_REFUSED;
  }
  if (kind == TV_PATH_SECRET && (foreign & S_IROTH) != 0) {
    snprintf(out_err, out_err_len, "%s %s is mode %04o: readable by %s; %s", what, path, perm,
             who(mode, gid, self, S_IROTH), fix_for(kind));
    return TV_MODE_INSECURE;
  }
  if (kind == TV_PATH_DIR && (foreign & S_IWOTH) != 0) {
    snprintf(out_err, out_err_len, "%s %s is mode %04o: writable by %s; %s", what, path, perm,
             who(mode, gid, self, S_IWOTH), fix_for(kind));
    return TV_MODE_INSECURE;
  }
  return TV_MODE_OK;
}

tv_status tv_mode_check_path(const char *what, const char *path, tv_path_kind kind, int allow_insecure,
                             char *out_err, size_t out_err_len) {
  if (path == NULL || path[0] == '\0') {
    return TV_OK;
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    return TV_OK; /* missing: whoever opens or creates it reports that */
  }
  tv_mode_owner self = {.uid = geteuid(), .gid = getegid()};
  tv_mode_verdict v = tv_mode_judge(what, path, kind, st.st_mode, st.st_uid, st.st_gid, &self, out_err,
                                    out_err_len);
  if (v == TV_MODE_OK) {
    return TV_OK;
  }
  if (v == TV_MODE_INSECURE && allow_insecure) {
    tv_log_line line;
    tv_log_begin(&line, "error", "insecure_permissions");
    tv_log_str(&line, "problem", out_err);
    tv_log_str(&line, "accepted_by", "--allow-insecure-permissions");
    tv_log_end(&line);
    out_err[0] = '\0';
    return TV_OK;
  }
  if (v == TV_MODE_INSECURE) {
    size_t n = strlen(out_err);
    snprintf(out_err + n, out_err_len - n, " (--allow-insecure-permissions starts anyway)");
  }
  return TV_E_SERVER_CONFIG;
}

/* |dir|/|name| when it fits; "" otherwise (then not checked). */
static void join(char out[PATH_MAX], const char *dir, const char *name) {
  int n = dir != NULL ? snprintf(out, PATH_MAX, "%s/%s", dir, name) : -1;
  if (n < 0 || n >= PATH_MAX) {
    out[0] = '\0';
  }
}

tv_status tv_mode_check_reload_tls(const tv_settings *s, char *out_err, size_t out_err_len) {
  int insist = s->allow_insecure_permissions;
  if (!s->tls) {
    return TV_OK;
  }
  TV_TRY(tv_mode_check_path("tls.key", s->tls_key, TV_PATH_SECRET, insist, out_err, out_err_len));
  TV_TRY(tv_mode_check_path("tls.cert", s->tls_cert, TV_PATH_TRUSTED, insist, out_err, out_err_len));
  return tv_mode_check_path("tls.client_ca", s->tls_ca, TV_PATH_TRUSTED, insist, out_err, out_err_len);
}

tv_status tv_mode_check_settings(const tv_settings *s, char *out_err, size_t out_err_len) {
  int insist = s->allow_insecure_permissions;
  TV_TRY(tv_mode_check_path("config", s->config_path, TV_PATH_TRUSTED, insist, out_err, out_err_len));
  TV_TRY(tv_mode_check_reload_tls(s, out_err, out_err_len));
  TV_TRY(tv_mode_check_path("hsm.pin_file", s->hsm_pin_file, TV_PATH_SECRET, insist, out_err, out_err_len));
  TV_TRY(tv_mode_check_path("store.postgres.password_file", s->pg_password_file, TV_PATH_SECRET, insist, out_err,
                            out_err_len));
  if (!s->open_vault) {
    return TV_OK;
  }
  char store[PATH_MAX], hsm[PATH_MAX], pin[PATH_MAX];
  join(store, s->data_dir, "store");
  join(hsm, s->data_dir, "hsm");
  join(pin, hsm, "user.pin");
  TV_TRY(tv_mode_check_path("data_dir", s->data_dir, TV_PATH_DIR, insist, out_err, out_err_len));
  TV_TRY(tv_mode_check_path("store directory", store, TV_PATH_DIR, insist, out_err, out_err_len));
  TV_TRY(tv_mode_check_path("audit.dir", s->audit_dir, TV_PATH_DIR, insist, out_err, out_err_len));
  if (s->dev) { /* --dev keeps its SoftHSM2 token and PIN under the data directory */
    TV_TRY(tv_mode_check_path("dev HSM directory", hsm, TV_PATH_DIR, insist, out_err, out_err_len));
    TV_TRY(tv_mode_check_path("dev HSM PIN file", pin, TV_PATH_SECRET, insist, out_err, out_err_len));
  }
  return TV_OK;
}
