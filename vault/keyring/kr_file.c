/* The keyring file's encoding: parse (checked: nothing read from the file is
 * trusted before it is bounded) and serialize. */
#include "vault/keyring/kr_file.h"

#include <stdlib.h>
#include <string.h>

#include "vault/keyring/kr_codec.h"

int kr_namespace_name_valid(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len > TV_KEYRING_NAMESPACE_LEN_MAX) {
    return 0;
  }
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) {
      return 0;
    }
  }
  return 1;
}

static tv_status read_wrapped(kr_reader *r, kr_wrapped *out) {
  uint8_t len = 0;
  TV_TRY(kr_read_u8(r, &len));
  TV_ENSURE(len == KR_WRAPPED_LEN, TV_E_KEYRING_CORRUPT);
  return kr_read_bytes(r, out->bytes, KR_WRAPPED_LEN);
}

/* Reads a u32 count and allocates |*out| for it. The count is bounded both
 * by |count_max| and by what the bytes left could hold (|entry_min| each),
 * so a forged count cannot make us allocate much. */
static tv_status read_count(kr_reader *r, uint32_t *out_count, void **out, size_t entry_size,
                            size_t count_max, size_t entry_min) {
  uint32_t count = 0;
  TV_TRY(kr_read_u32(r, &count));
  TV_ENSURE(count <= count_max && count <= kr_reader_left(r) / entry_min, TV_E_KEYRING_CORRUPT);
  *out = calloc(count > 0 ? count : 1, entry_size);
  TV_ENSURE(*out != NULL, TV_E_NO_MEMORY);
  *out_count = count;
  return TV_OK;
}

static tv_status read_header(kr_reader *r, kr_file *f) {
  uint8_t magic[KR_MAGIC_LEN];
  uint16_t format = 0;
  uint16_t zero = 0;
  TV_TRY(kr_read_bytes(r, magic, KR_MAGIC_LEN));
  TV_ENSURE(memcmp(magic, KR_MAGIC, KR_MAGIC_LEN) == 0, TV_E_KEYRING_CORRUPT);
  TV_TRY(kr_read_u16(r, &format));
  TV_ENSURE(format >= KR_FORMAT_VERSION_MIN && format <= KR_FORMAT_VERSION, TV_E_KEYRING_FORMAT_VERSION);
  f->format = format;
  TV_TRY(kr_read_u16(r, &zero));
  TV_ENSURE(zero == 0, TV_E_KEYRING_CORRUPT);
  TV_TRY(kr_read_u64(r, &f->generation));
  TV_TRY(kr_read_str(r, f->kek_label, sizeof f->kek_label, 0));
  TV_TRY(kr_read_u8(r, &f->pending));
  TV_TRY(kr_read_str(r, f->pending_label, sizeof f->pending_label, 1));
  TV_ENSURE(f->pending <= KR_PENDING_KEK_DISABLE, TV_E_KEYRING_CORRUPT);
  TV_ENSURE((f->pending == KR_PENDING_NONE) == (f->pending_label[0] == '\0'),
            TV_E_KEYRING_CORRUPT);
  TV_ENSURE(strcmp(f->pending_label, f->kek_label) != 0, TV_E_KEYRING_CORRUPT);
  return kr_read_u64(r, &f->next_proposal_id);
}

static tv_status read_namespaces(kr_reader *r, kr_file *f) {
  void *arr = NULL;
  TV_TRY(read_count(r, &f->num_namespaces, &arr, sizeof(kr_file_namespace),
                    TV_KEYRING_NAMESPACES_MAX, 2 + 8 + 4 + 2 * (1 + KR_WRAPPED_LEN)));
  f->namespaces = arr;
  for (uint32_t i = 0; i < f->num_namespaces; i++) {
    kr_file_namespace *ns = &f->namespaces[i];
    TV_TRY(kr_read_str(r, ns->name, sizeof ns->name, 0));
    TV_ENSURE(kr_namespace_name_valid(ns->name), TV_E_KEYRING_CORRUPT);
    for (uint32_t j = 0; j < i; j++) {
      TV_ENSURE(strcmp(f->namespaces[j].name, ns->name) != 0, TV_E_KEYRING_CORRUPT);
    }
    TV_TRY(kr_read_u64(r, &ns->created_s));
    TV_TRY(kr_read_u32(r, &ns->last_version));
    TV_ENSURE(ns->last_version >= 1, TV_E_KEYRING_CORRUPT);
    TV_TRY(read_wrapped(r, &ns->token_key));
    TV_TRY(read_wrapped(r, &ns->fingerprint_key));
  }
  return TV_OK;
}

static tv_status read_versions(kr_reader *r, kr_file *f) {
  void *arr = NULL;
  TV_TRY(read_count(r, &f->num_versions, &arr, sizeof(kr_file_version),
                    (size_t)TV_KEYRING_NAMESPACES_MAX * TV_KEYRING_VERSIONS_MAX,
                    4 + 4 + 1 + 8 + 8 + 1 + KR_WRAPPED_LEN));
  f->versions = arr;
  for (uint32_t i = 0; i < f->num_versions; i++) {
    kr_file_version *v = &f->versions[i];
    TV_TRY(kr_read_u32(r, &v->ns_index));
    TV_TRY(kr_read_u32(r, &v->version));
    TV_TRY(kr_read_u8(r, &v->state));
    TV_TRY(kr_read_u64(r, &v->created_s));
    TV_TRY(kr_read_u64(r, &v->reserved));
    TV_TRY(read_wrapped(r, &v->value_key));
    TV_ENSURE(v->ns_index < f->num_namespaces, TV_E_KEYRING_CORRUPT);
    TV_ENSURE(v->version >= 1 && v->version <= f->namespaces[v->ns_index].last_version,
              TV_E_KEYRING_CORRUPT);
    TV_ENSURE(v->state >= TV_KEY_ACTIVE && v->state <= TV_KEY_RETIRED, TV_E_KEYRING_CORRUPT);
  }
  return TV_OK;
}

/* Every namespace has exactly one ACTIVE version and at most
 * TV_KEYRING_VERSIONS_MAX versions, listed in increasing version order (as
 * rotations append them), which also rules out duplicates in linear time. */
static tv_status check_versions(const kr_file *f) {
  size_t n = f->num_namespaces > 0 ? f->num_namespaces : 1;
  uint32_t *active = calloc(n, sizeof *active);
  uint32_t *total = calloc(n, sizeof *total);
  uint32_t *last = calloc(n, sizeof *last);
  tv_status status = active != NULL && total != NULL && last != NULL ? TV_OK : TV_E_NO_MEMORY;
  for (uint32_t i = 0; status == TV_OK && i < f->num_versions; i++) {
    const kr_file_version *v = &f->versions[i];
    if (v->version <= last[v->ns_index]) {
      status = TV_E_KEYRING_CORRUPT;
    }
    last[v->ns_index] = v->version;
    active[v->ns_index] += v->state == TV_KEY_ACTIVE;
    total[v->ns_index]++;
  }
  for (uint32_t i = 0; status == TV_OK && i < f->num_namespaces; i++) {
    if (active[i] != 1 || total[i] > TV_KEYRING_VERSIONS_MAX) {
      status = TV_E_KEYRING_CORRUPT;
    }
  }
  free(active);
  free(total);
  free(last);
  return status;
}

static tv_status read_proposal(kr_reader *r, const kr_file *f, tv_keyring_proposal *p) {
  uint8_t action = 0;
  TV_TRY(kr_read_u64(r, &p->id));
  TV_TRY(kr_read_u8(r, &action));
  TV_TRY(kr_read_str(r, p->proposer, sizeof p->proposer, 0));
  TV_TRY(kr_read_u64(r, &p->proposed_s));
  TV_TRY(kr_read_str(r, p->name, sizeof p->name, 1));
  TV_TRY(kr_read_u32(r, &p->version));
  TV_TRY(kr_read_str(r, p->label, sizeof p->label, 1));
  if (f->format >= 2) {
    TV_TRY(kr_read_str(r, p->reason, sizeof p->reason, 1));
  }
  TV_ENSURE(p->id < f->next_proposal_id, TV_E_KEYRING_CORRUPT);
  TV_ENSURE(action >= TV_KEYRING_ROTATE_KEK && action <= TV_KEYRING_DESTROY_OLD_KEK,
            TV_E_KEYRING_CORRUPT);
  p->action = (tv_keyring_action)action;
  int wants_label = p->action != TV_KEYRING_DESTROY_VERSION;
  TV_ENSURE((p->label[0] != '\0') == wants_label, TV_E_KEYRING_CORRUPT);
  TV_ENSURE((p->name[0] != '\0') == !wants_label, TV_E_KEYRING_CORRUPT);
  return TV_OK;
}

/* Approved proposals: ids issued, in the order approved (ids increasing
 * is not required: an older proposal may be approved later). */
static tv_status read_recent(kr_reader *r, kr_file *f) {
  void *arr = NULL;
  TV_TRY(read_count(r, &f->num_recent, &arr, sizeof(tv_keyring_proposal), TV_KEYRING_RECENT_MAX,
                    8 + 1 + 2 + 8 + 1 + 4 + 1 + 1 + 2 + 8));
  f->recent = arr;
  for (uint32_t i = 0; i < f->num_recent; i++) {
    tv_keyring_proposal *p = &f->recent[i];
    TV_TRY(read_proposal(r, f, p));
    TV_TRY(kr_read_str(r, p->approver, sizeof p->approver, 0));
    TV_TRY(kr_read_u64(r, &p->approved_s));
    TV_ENSURE(strcmp(p->approver, p->proposer) != 0, TV_E_KEYRING_CORRUPT);
  }
  return TV_OK;
}

static tv_status read_tail(kr_reader *r, kr_file *f) {
  void *arr = NULL;
  TV_TRY(read_count(r, &f->num_proposals, &arr, sizeof(tv_keyring_proposal),
                    TV_KEYRING_PROPOSALS_MAX, 8 + 1 + 2 + 8 + 1 + 4 + 1));
  f->proposals = arr;
  for (uint32_t i = 0; i < f->num_proposals; i++) {
    TV_TRY(read_proposal(r, f, &f->proposals[i]));
    TV_ENSURE(kr_file_find_proposal(f, f->proposals[i].id) == (long)i, TV_E_KEYRING_CORRUPT);
  }
  TV_TRY(read_count(r, &f->num_old_keks, &arr, sizeof(kr_file_old_kek), TV_KEYRING_OLD_KEKS_MAX,
                    2));
  f->old_keks = arr;
  for (uint32_t i = 0; i < f->num_old_keks; i++) {
    TV_TRY(kr_read_str(r, f->old_keks[i].label, sizeof f->old_keks[i].label, 0));
    TV_ENSURE(strcmp(f->old_keks[i].label, f->kek_label) != 0, TV_E_KEYRING_CORRUPT);
  }
  if (f->format >= 2) {
    TV_TRY(read_recent(r, f));
  }
  TV_ENSURE(kr_reader_left(r) == 0, TV_E_KEYRING_CORRUPT);
  return TV_OK;
}

tv_status kr_file_parse(kr_file *out, const uint8_t *data, size_t len) {
  TV_ENSURE(out != NULL && (data != NULL || len == 0), TV_E_INVALID_ARGUMENT);
  memset(out, 0, sizeof *out);
  TV_ENSURE(len <= TV_KEYRING_FILE_LEN_MAX, TV_E_KEYRING_CORRUPT);
  kr_reader r;
  kr_reader_init(&r, data, len);
  tv_status status = read_header(&r, out);
  if (status == TV_OK) {
    status = read_namespaces(&r, out);
  }
  if (status == TV_OK) {
    status = read_versions(&r, out);
  }
  if (status == TV_OK) {
    status = check_versions(out);
  }
  if (status == TV_OK) {
    status = read_tail(&r, out);
  }
  if (status != TV_OK) {
    kr_file_free(out);
  }
  return status;
}

static void write_wrapped(kr_writer *w, const kr_wrapped *k) {
  kr_write_u8(w, KR_WRAPPED_LEN);
  kr_write_bytes(w, k->bytes, KR_WRAPPED_LEN);
}

/* The format |f| is written in: as read, or the current one for a file
 * made here. */
static uint16_t format_of(const kr_file *f) { return f->format != 0 ? f->format : KR_FORMAT_VERSION; }

static void write_proposal(kr_writer *w, const kr_file *f, const tv_keyring_proposal *p) {
  kr_write_u64(w, p->id);
  kr_write_u8(w, (uint8_t)p->action);
  kr_write_str(w, p->proposer);
  kr_write_u64(w, p->proposed_s);
  kr_write_str(w, p->name);
  kr_write_u32(w, p->version);
  kr_write_str(w, p->label);
  if (format_of(f) >= 2) {
    kr_write_str(w, p->reason);
  }
}

static void write_body(kr_writer *w, const kr_file *f) {
  for (uint32_t i = 0; i < f->num_namespaces; i++) {
    const kr_file_namespace *ns = &f->namespaces[i];
    kr_write_str(w, ns->name);
    kr_write_u64(w, ns->created_s);
    kr_write_u32(w, ns->last_version);
    write_wrapped(w, &ns->token_key);
    write_wrapped(w, &ns->fingerprint_key);
  }
  kr_write_u32(w, f->num_versions);
  for (uint32_t i = 0; i < f->num_versions; i++) {
    const kr_file_version *v = &f->versions[i];
    kr_write_u32(w, v->ns_index);
    kr_write_u32(w, v->version);
    kr_write_u8(w, v->state);
    kr_write_u64(w, v->created_s);
    kr_write_u64(w, v->reserved);
    write_wrapped(w, &v->value_key);
  }
  kr_write_u32(w, f->num_proposals);
  for (uint32_t i = 0; i < f->num_proposals; i++) {
    write_proposal(w, f, &f->proposals[i]);
  }
  kr_write_u32(w, f->num_old_keks);
  for (uint32_t i = 0; i < f->num_old_keks; i++) {
    kr_write_str(w, f->old_keks[i].label);
  }
  if (format_of(f) < 2) {
    return; /* format 1 has no recent proposals */
  }
  kr_write_u32(w, f->num_recent);
  for (uint32_t i = 0; i < f->num_recent; i++) {
    write_proposal(w, f, &f->recent[i]);
    kr_write_str(w, f->recent[i].approver);
    kr_write_u64(w, f->recent[i].approved_s);
  }
}

tv_status kr_file_serialize(const kr_file *file, uint8_t **out_buf, size_t *out_len) {
  TV_ENSURE(file != NULL && out_buf != NULL && out_len != NULL, TV_E_INVALID_ARGUMENT);
  kr_writer w = {0};
  kr_write_bytes(&w, (const uint8_t *)KR_MAGIC, KR_MAGIC_LEN);
  kr_write_u16(&w, format_of(file));
  kr_write_u16(&w, 0);
  kr_write_u64(&w, file->generation);
  kr_write_str(&w, file->kek_label);
  kr_write_u8(&w, file->pending);
  kr_write_str(&w, file->pending_label);
  kr_write_u64(&w, file->next_proposal_id);
  kr_write_u32(&w, file->num_namespaces);
  write_body(&w, file);
  size_t len = w.len;
  uint8_t spare[KR_MAC_LEN] = {0};
  kr_write_bytes(&w, spare, sizeof spare);
  if (w.failed) {
    kr_writer_reset(&w);
    return TV_E_NO_MEMORY;
  }
  *out_buf = w.buf;
  *out_len = len;
  return TV_OK;
}

static void *dup_array(const void *src, size_t count, size_t size) {
  void *dst = calloc(count > 0 ? count : 1, size);
  if (dst != NULL && count > 0) {
    memcpy(dst, src, count * size);
  }
  return dst;
}

tv_status kr_file_clone(kr_file *out, const kr_file *src) {
  *out = *src;
  out->namespaces = dup_array(src->namespaces, src->num_namespaces, sizeof *src->namespaces);
  out->versions = dup_array(src->versions, src->num_versions, sizeof *src->versions);
  out->proposals = dup_array(src->proposals, src->num_proposals, sizeof *src->proposals);
  out->old_keks = dup_array(src->old_keks, src->num_old_keks, sizeof *src->old_keks);
  out->recent = dup_array(src->recent, src->num_recent, sizeof *src->recent);
  if (out->namespaces == NULL || out->versions == NULL || out->proposals == NULL ||
      out->old_keks == NULL || out->recent == NULL) {
    kr_file_free(out);
    return TV_E_NO_MEMORY;
  }
  return TV_OK;
}

void kr_file_free(kr_file *file) {
  if (file == NULL) {
    return;
  }
  free(file->namespaces);
  free(file->versions);
  free(file->proposals);
  free(file->old_keks);
  free(file->recent);
  memset(file, 0, sizeof *file);
}
