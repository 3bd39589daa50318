/* The store settings: the log under data_dir (default) or a PostgreSQL
 * fleet database (conninfo checked for a password, password file handed
 * to libpq by path as `passfile`, node_id defaulting to the host name). */
#include "vault/daemon/settings_store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vault/store/pg/pg_store.h"

static int is_uri(const char *conninfo) {
  return strncmp(conninfo, "postgresql://", 13) == 0 || strncmp(conninfo, "postgres://", 11) == 0;
}

/* Appends `passfile` to the conninfo in the form it is written in: a
 * quoted keyword for key=value strings, a percent-encoded parameter for
 * URIs. libpq reads the file itself when it needs a password, so the
 * password is never in our memory, argv, environment or logs. */
static int append_passfile(char *out, size_t out_len, const char *conninfo, const char *path) {
  size_t n = (size_t)snprintf(out, out_len, "%s", conninfo);
  int uri = is_uri(conninfo);
  const char *sep = !uri ? " passfile='" : strchr(conninfo, '?') != NULL ? "&passfile=" : "?passfile=";
  n += (size_t)snprintf(out + n, n < out_len ? out_len - n : 0, "%s", sep);
  for (const char *p = path; *p != '\0' && n + 4 < out_len; p++) {
    unsigned char c = (unsigned char)*p;
    if (uri && !(c == '/' || c == '.' || c == '-' || c == '_' || (c >= '0' && c <= '9') ||
                 (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      n += (size_t)snprintf(out + n, out_len - n, "%%%02X", c);
    } else if (!uri && (c == '\'' || c == '\\')) {
      out[n++] = '\\';
      out[n++] = (char)c;
    } else {
      out[n++] = (char)c;
    }
  }
  if (n + 2 >= out_len) {
    return 0;
  }
  if (!uri) {
    out[n++] = '\'';
  }
  out[n] = '\0';
  return 1;
}

/* resolve_conninfo checks the conninfo of setting |name| (no password,
 * parses) and writes what libpq gets into |out|: it plus the password
 * file, if any. */
static tv_status resolve_conninfo(const tv_settings *s, const char *name, const char *conninfo, char *out,
                                  size_t out_len, char *err, size_t err_len) {
  char why[256] = "";
  tv_status st = tv_pg_conninfo_check(conninfo, why, sizeof why);
  if (st == TV_E_STORE_CONNINFO_PASSWORD) {
    snprintf(err, err_len,
             "%s: a password in the connection string is refused (it would end up in "
             "backups, version control and logs); put it in a libpq password file named by "
             "store.postgres.password_file (or PGPASSFILE)",
             name);
    return TV_E_SERVER_CONFIG;
  }
  if (st != TV_OK) {
    snprintf(err, err_len, "%s: not a libpq connection string or URI: %s", name, why);
    return TV_E_SERVER_CONFIG;
  }
  if (s->pg_password_file == NULL) {
    snprintf(out, out_len, "%s", conninfo);
    return TV_OK;
  }
  if (!append_passfile(out, out_len, conninfo, s->pg_password_file)) {
    snprintf(err, err_len, "store.postgres.password_file: the path is too long");
    return TV_E_SERVER_CONFIG;
  }
  return TV_OK;
}

tv_status tv_settings_resolve_store(tv_settings *s, char *err, size_t err_len) {
  const tv_config *c = s->config;
  if (c->node_id[0] != '\0') {
    snprintf(s->node_id, sizeof s->node_id, "%s", c->node_id);
  } else if (gethostname(s->node_id, sizeof s->node_id) != 0 || s->node_id[0] == '\0') {
    snprintf(s->node_id, sizeof s->node_id, "%s", "tokenvault");
  }
  s->node_id[sizeof s->node_id - 1] = '\0';
  if (c->store.backend != CONFIG_STORE_POSTGRES) {
    return TV_OK;
  }
  s->store_postgres = 1;
  if (c->store.password_file[0] != '\0') {
    s->pg_password_file = c->store.password_file;
    if (access(s->pg_password_file, R_OK) != 0) { /* libpq would skip it silently */
      snprintf(err, err_len, "store.postgres.password_file: cannot read %s: %s", s->pg_password_file,
               strerror(errno));
      return TV_E_SERVER_CONFIG;
    }
  }
  TV_TRY(resolve_conninfo(s, "store.postgres.conninfo", c->store.conninfo, s->pg_conninfo, sizeof s->pg_conninfo,
                          err, err_len));
  s->pg_read_lag_max_ms = (uint32_t)c->store.read_lag_max_ms;
  if (c->store.read_conninfo[0] == '\0') {
    return TV_OK;
  }
  return resolve_conninfo(s, "store.postgres.read_conninfo", c->store.read_conninfo, s->pg_read_conninfo,
                          sizeof s->pg_read_conninfo, err, err_len);
}
