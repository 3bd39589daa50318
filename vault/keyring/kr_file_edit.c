/* Looking up and editing the entries of a kr_file (the arrays grow by one
 * per change: changes are rare and small). */
#include <stdlib.h>
#include <string.h>

#include "vault/keyring/kr_file.h"

long kr_file_find_namespace(const kr_file *file, const char *name) {
  for (uint32_t i = 0; i < file->num_namespaces; i++) {
    if (strcmp(file->namespaces[i].name, name) == 0) {
      return (long)i;
    }
  }
  return -1;
}

long kr_file_find_version(const kr_file *file, uint32_t ns_index, uint32_t version) {
  for (uint32_t i = 0; i < file->num_versions; i++) {
    if (file->versions[i].ns_index == ns_index && file->versions[i].version == version) {
      return (long)i;
    }
  }
  return -1;
}

long kr_file_find_proposal(const kr_file *file, uint64_t id) {
  for (uint32_t i = 0; i < file->num_proposals; i++) {
    if (file->proposals[i].id == id) {
      return (long)i;
    }
  }
  return -1;
}

static void *grow(void **arr, uint32_t *count, size_t size) {
  void *bigger = realloc(*arr, ((size_t)*count + 1) * size);
  if (bigger == NULL) {
    return NULL;
  }
  *arr = bigger;
  uint8_t *entry = (uint8_t *)bigger + (size_t)*count * size;
  memset(entry, 0, size);
  (*count)++;
  return entry;
}

kr_file_namespace *kr_file_add_namespace(kr_file *file) {
  void *arr = file->namespaces;
  kr_file_namespace *e = grow(&arr, &file->num_namespaces, sizeof *e);
  file->namespaces = arr;
  return e;
}

kr_file_version *kr_file_add_version(kr_file *file) {
  void *arr = file->versions;
  kr_file_version *e = grow(&arr, &file->num_versions, sizeof *e);
  file->versions = arr;
  return e;
}

tv_keyring_proposal *kr_file_add_proposal(kr_file *file) {
  void *arr = file->proposals;
  tv_keyring_proposal *e = grow(&arr, &file->num_proposals, sizeof *e);
  file->proposals = arr;
  return e;
}

tv_status kr_file_add_recent(kr_file *file, const tv_keyring_proposal *p) {
  if (file->num_recent == TV_KEYRING_RECENT_MAX) {
    memmove(file->recent, file->recent + 1, (TV_KEYRING_RECENT_MAX - 1) * sizeof *file->recent);
    file->recent[TV_KEYRING_RECENT_MAX - 1] = *p;
    return TV_OK;
  }
  void *arr = file->recent;
  tv_keyring_proposal *e = grow(&arr, &file->num_recent, sizeof *e);
  file->recent = arr;
  TV_ENSURE(e != NULL, TV_E_NO_MEMORY);
  *e = *p;
  return TV_OK;
}

kr_file_old_kek *kr_file_add_old_kek(kr_file *file) {
  void *arr = file->old_keks;
  kr_file_old_kek *e = grow(&arr, &file->num_old_keks, sizeof *e);
  file->old_keks = arr;
  return e;
}

static void remove_at(void *arr, uint32_t *count, size_t size, size_t index) {
  uint8_t *base = arr;
  memmove(base + index * size, base + (index + 1) * size, ((size_t)*count - index - 1) * size);
  (*count)--;
}

void kr_file_remove_version(kr_file *file, size_t index) {
  remove_at(file->versions, &file->num_versions, sizeof *file->versions, index);
}

void kr_file_remove_proposal(kr_file *file, size_t index) {
  remove_at(file->proposals, &file->num_proposals, sizeof *file->proposals, index);
}

void kr_file_remove_old_kek(kr_file *file, size_t index) {
  remove_at(file->old_keks, &file->num_old_keks, sizeof *file->old_keks, index);
}
