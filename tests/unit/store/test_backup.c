/* Online snapshot and restore: a snapshot taken while threads append holds
 * everything acknowledged before it, restores into a fresh directory that
 * opens with every record intact; damaged or incomplete backups and
 * non-empty targets are refused, naming the file. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_test_util.h"
#include "vault/store/backup.h"
#include "vault/store/backup_io.h"
#include "vault/store/crc32c.h"
#include "vault/store/segment.h"
#include "vault/store/store.h"

enum { THREADS = 4, PER_THREAD = 1500, TOTAL = THREADS * PER_THREAD, SEGMENT = 64 * 1024 };
enum { TOMBSTONES = 50 }; /* ids re-put as the engine's deletion marker */

typedef struct fixture {
  char root[256];
  char store[300];
  char backup[300];
  char target[300];
  char keyring[300];
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  test_tmpdir(f->root, sizeof f->root);
  snprintf(f->store, sizeof f->store, "%s/store", f->root);
  snprintf(f->backup, sizeof f->backup, "%s/backup", f->root);
  snprintf(f->target, sizeof f->target, "%s/restored", f->root);
  snprintf(f->keyring, sizeof f->keyring, "%s/keyring.tvk", f->root);
  FILE *k = fopen(f->keyring, "w");
  fputs("wrapped-keys-v1 0123456789abcdef\n", k);
  fclose(k);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  test_rmdir(f->root);
  free(f);
  return 0;
}

typedef struct writer_arg {
  tv_store *s;
  uint64_t first;
  atomic_uchar *acked;
  atomic_int *stop;
} writer_arg;

static void *writer_main(void *p) {
  writer_arg *a = p;
  for (uint64_t i = 0; i < PER_THREAD && !atomic_load(a->stop); i++) {
    test_rec t;
    test_rec_make(&t, a->first + i, 1);
    if (tv_store_put(a->s, &t.put, NULL) == TV_OK) {
      atomic_store(&a->acked[a->first + i], 1);
    }
  }
  return NULL;
}

/* The engine's deletion marker: key version 0, no ciphertext. */
static void make_tombstone(test_rec *t, uint64_t id) {
  test_rec_make(t, id, 0);
  t->put.ciphertext_len = 0;
}

static tv_status count_live(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)put;
  (void)loc;
  (*(size_t *)ctx)++;
  return TV_OK;
}

/* fill_store writes ids [0, n) and marks the first TOMBSTONES deleted. */
static void fill_store(const fixture *f, size_t n) {
  tv_store_options o = test_store_options(f->store, SEGMENT);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  for (uint64_t i = 0; i < n; i++) {
    test_rec t;
    test_rec_make(&t, 100000 + i, 1);
    assert_int_equal(tv_store_put(s, &t.put, NULL), TV_OK);
  }
  for (uint64_t i = 0; i < TOMBSTONES && i < n; i++) {
    test_rec t;
    make_tombstone(&t, 100000 + i);
    assert_int_equal(tv_store_reput(s, &t.put, NULL), TV_OK);
  }
  tv_store_snapshot_info info;
  const char *extra[] = {f->keyring};
  assert_int_equal(tv_store_snapshot(s, f->backup, extra, 1, &info), TV_OK);
  assert_int_equal(info.records, n + (n < TOMBSTONES ? n : TOMBSTONES));
  tv_store_close(s);
}

static void start_writers(tv_store *s, pthread_t *th, writer_arg *args, atomic_uchar *acked, atomic_int *stop) {
  for (int i = 0; i < THREADS; i++) {
    args[i] = (writer_arg){s, (uint64_t)i * PER_THREAD, acked, stop};
    assert_int_equal(pthread_create(&th[i], NULL, writer_main, &args[i]), 0);
  }
}

/* check_restored opens the restored store: every id acknowledged before
 * the snapshot is there byte for byte, and nothing else is. */
static void check_restored(const fixture *f, const unsigned char *before, const tv_store_snapshot_info *info) {
  tv_store_options o = test_store_options(f->target, SEGMENT);
  tv_store *r;
  tv_store_diag diag;
  assert_int_equal(tv_store_open(NULL, &o, &r, &diag), TV_OK);
  size_t want = 0;
  for (uint64_t id = 0; id < TOTAL; id++) {
    if (before[id]) {
      want++;
      assert_int_equal(test_check_ids(r, id, 1, 1), 1);
    }
  }
  size_t live = 0;
  assert_int_equal(tv_store_scan(r, count_live, &live), TV_OK);
  assert_true(live >= want);                 /* acknowledged before: all in */
  assert_int_equal(live, info->records);     /* only puts in this test */
  assert_int_equal(info->last_seq, info->records + info->segments); /* seqs are dense */
  tv_store_stats st;
  tv_store_get_stats(r, &st);
  assert_int_equal(st.recovered_records, info->records);
  tv_store_close(r);
}

static void test_snapshot_while_appending(void **state) {
  fixture *f = *state;
  tv_store_options o = test_store_options(f->store, SEGMENT);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  atomic_uchar *acked = calloc(TOTAL, sizeof *acked);
  unsigned char *before = calloc(TOTAL, 1);
  atomic_int stop = 0;
  pthread_t th[THREADS];
  writer_arg args[THREADS];
  start_writers(s, th, args, acked, &stop);
  /* Let the writers fill a few segments, then snapshot mid-stream. */
  size_t seen = 0;
  while (seen < TOTAL / 3) {
    usleep(2000);
    seen = 0;
    for (size_t i = 0; i < TOTAL; i++) {
      seen += atomic_load(&acked[i]);
    }
  }
  for (size_t i = 0; i < TOTAL; i++) {
    before[i] = atomic_load(&acked[i]);
  }
  tv_store_snapshot_info info;
  const char *extra[] = {f->keyring};
  assert_int_equal(tv_store_snapshot(s, f->backup, extra, 1, &info), TV_OK);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
  }
  tv_store_close(s);
  assert_true(info.segments > 2);
  assert_int_equal(info.extra_files, 1);
  assert_true(info.records >= TOTAL / 3);
  assert_true(info.records < TOTAL); /* taken mid-stream: writers went on */
  tv_store_snapshot_info vinfo;
  assert_int_equal(tv_store_verify_backup(f->backup, &vinfo, NULL), TV_OK);
  assert_int_equal(vinfo.last_seq, info.last_seq);
  tv_store_diag diag;
  assert_int_equal(tv_store_restore(f->backup, f->target, &diag), TV_OK);
  check_restored(f, before, &info);
  char kr[400];
  snprintf(kr, sizeof kr, "%s/keyring.tvk", f->target);
  FILE *k = fopen(kr, "r");
  assert_non_null(k);
  char line[64] = {0};
  assert_non_null(fgets(line, sizeof line, k));
  fclose(k);
  assert_string_equal(line, "wrapped-keys-v1 0123456789abcdef\n");
  free(acked);
  free(before);
}

/* Deletion markers (key version 0, no ciphertext) survive backup/restore. */
static void test_tombstones_survive(void **state) {
  fixture *f = *state;
  fill_store(f, 500);
  assert_int_equal(tv_store_restore(f->backup, f->target, NULL), TV_OK);
  tv_store_options o = test_store_options(f->target, SEGMENT);
  tv_store *r;
  assert_int_equal(tv_store_open(NULL, &o, &r, NULL), TV_OK);
  tv_store_buf buf = {0};
  for (uint64_t i = 0; i < TOMBSTONES; i++) {
    test_rec t;
    make_tombstone(&t, 100000 + i);
    tv_store_key key = test_rec_key(&t);
    tv_store_item item;
    assert_int_equal(tv_store_get_batch(r, &key, 1, &item, &buf), TV_OK);
    assert_int_equal(item.status, TV_OK);
    assert_int_equal(item.put.key_version, 0);
    assert_int_equal(item.put.ciphertext_len, 0);
  }
  assert_int_equal(test_check_ids(r, 100000 + TOMBSTONES, 500 - TOMBSTONES, 1), 500 - TOMBSTONES);
  tv_store_buf_cleanup(&buf);
  tv_store_close(r);
}

static void flip(const char *path, off_t off) {
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  unsigned char c;
  assert_int_equal(pread(fd, &c, 1, off), 1);
  c ^= 0x5A;
  assert_int_equal(pwrite(fd, &c, 1, off), 1);
  close(fd);
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void assert_refused(const fixture *f, tv_status want, const char *file) {
  tv_store_diag diag;
  assert_int_equal(tv_store_restore(f->backup, f->target, &diag), want);
  assert_true(ends_with(diag.path, file));
  assert_non_null(strstr(diag.message, file));
  struct stat sb;
  assert_int_not_equal(stat(f->target, &sb), 0); /* nothing installed */
}

static void test_flipped_byte_refused(void **state) {
  fixture *f = *state;
  fill_store(f, 1200);
  char seg[400];
  snprintf(seg, sizeof seg, "%s/seg-00000002.log", f->backup);
  flip(seg, 20000);
  assert_refused(f, TV_E_STORE_CORRUPT, "seg-00000002.log");
  assert_int_equal(tv_store_verify_backup(f->backup, NULL, NULL), TV_E_STORE_CORRUPT);
}

static void test_missing_segment_refused(void **state) {
  fixture *f = *state;
  fill_store(f, 1200);
  char seg[400];
  snprintf(seg, sizeof seg, "%s/seg-00000002.log", f->backup);
  assert_int_equal(unlink(seg), 0);
  assert_refused(f, TV_E_STORE_LAYOUT, "seg-00000002.log");
}

static void test_truncated_segment_refused(void **state) {
  fixture *f = *state;
  fill_store(f, 1200);
  char seg[400];
  snprintf(seg, sizeof seg, "%s/seg-00000001.log", f->backup);
  assert_int_equal(truncate(seg, 30000), 0);
  assert_refused(f, TV_E_STORE_CORRUPT, "seg-00000001.log");
}

static void test_bad_manifest_refused(void **state) {
  fixture *f = *state;
  fill_store(f, 300);
  char man[400];
  snprintf(man, sizeof man, "%s/MANIFEST", f->backup);
  flip(man, 25); /* inside "last_seq ..." */
  assert_refused(f, TV_E_STORE_CORRUPT, "MANIFEST");
  assert_int_equal(unlink(man), 0); /* a snapshot that never finished */
  assert_refused(f, TV_E_STORE_LAYOUT, "MANIFEST");
}

static void test_damaged_keyring_refused(void **state) {
  fixture *f = *state;
  fill_store(f, 300);
  char kr[400];
  snprintf(kr, sizeof kr, "%s/keyring.tvk", f->backup);
  flip(kr, 3);
  assert_refused(f, TV_E_STORE_CORRUPT, "keyring.tvk");
}

static void test_non_empty_target_refused(void **state) {
  fixture *f = *state;
  fill_store(f, 300);
  assert_int_equal(mkdir(f->target, 0700), 0);
  char other[400];
  snprintf(other, sizeof other, "%s/precious", f->target);
  FILE *p = fopen(other, "w");
  fputs("keep", p);
  fclose(p);
  tv_store_diag diag;
  assert_int_equal(tv_store_restore(f->backup, f->target, &diag), TV_E_STORE_BACKUP_TARGET);
  struct stat sb;
  assert_int_equal(stat(other, &sb), 0);
  assert_int_equal(sb.st_size, 4);
  /* An empty existing directory is fine, and then holds the store. */
  assert_int_equal(unlink(other), 0);
  assert_int_equal(tv_store_restore(f->backup, f->target, &diag), TV_OK);
  tv_store_options o = test_store_options(f->target, SEGMENT);
  tv_store *r;
  assert_int_equal(tv_store_open(NULL, &o, &r, NULL), TV_OK);
  assert_int_equal(test_check_ids(r, 100000 + TOMBSTONES, 300 - TOMBSTONES, 1), 300 - TOMBSTONES);
  tv_store_close(r);
  /* Restoring again over the now-populated store is refused. */
  assert_int_equal(tv_store_restore(f->backup, f->target, &diag), TV_E_STORE_BACKUP_TARGET);
}

static void test_snapshot_into_non_empty_dir_refused(void **state) {
  fixture *f = *state;
  fill_store(f, 100);
  tv_store_options o = test_store_options(f->store, SEGMENT);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  tv_store_snapshot_info info;
  assert_int_equal(tv_store_snapshot(s, f->backup, NULL, 0, &info), TV_E_STORE_BACKUP_TARGET);
  const char *bad[] = {"/nonexistent/dir/MANIFEST"};
  assert_int_equal(tv_store_snapshot(s, f->target, bad, 1, &info), TV_E_INVALID_ARGUMENT);
  tv_store_close(s);
}

/* A restore whose temporary directory cannot be made (the target's name
 * leaves no room for the ".restore-XXXXXX" suffix) says which call failed
 * and the errno, not only a status. */
static void test_restore_failure_names_call_and_errno(void **state) {
  fixture *f = *state;
  fill_store(f, 50);
  char target[600];
  int n = snprintf(target, sizeof target, "%s/", f->root);
  memset(target + n, 'r', 250); /* NAME_MAX is 255 */
  target[n + 250] = '\0';
  tv_store_diag diag;
  assert_int_equal(tv_store_restore(f->backup, target, &diag), TV_E_IO);
  const char *msg = tv_store_io_error();
  assert_non_null(strstr(msg, "mkdtemp of "));
  assert_non_null(strstr(msg, "(errno 36)")); /* ENAMETOOLONG */
}

/* A backup into a directory that cannot be created names mkdir and the
 * errno: the destination's parent is a regular file. */
static void test_snapshot_failure_names_call_and_errno(void **state) {
  fixture *f = *state;
  fill_store(f, 50);
  tv_store_options o = test_store_options(f->store, SEGMENT);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  char dest[400];
  snprintf(dest, sizeof dest, "%s/sub", f->keyring); /* under a regular file */
  tv_store_snapshot_info info;
  tv_store_io_error_clear();
  assert_int_not_equal(tv_store_snapshot(s, dest, NULL, 0, &info), TV_OK);
  const char *msg = tv_store_io_error();
  assert_non_null(strstr(msg, "mkdir of "));
  assert_non_null(strstr(msg, "(errno 20)")); /* ENOTDIR */
  tv_store_close(s);
}

/* A backed-up file that cannot be read (a directory in place of the
 * keyring copy) fails verify-backup naming pread, the file and the errno. */
static void test_unreadable_backup_file_named(void **state) {
  fixture *f = *state;
  fill_store(f, 50);
  char copy[400];
  snprintf(copy, sizeof copy, "%s/keyring.tvk", f->backup);
  assert_int_equal(unlink(copy), 0);
  assert_int_equal(mkdir(copy, 0700), 0);
  tv_store_snapshot_info info;
  tv_store_diag diag;
  assert_int_equal(tv_store_verify_backup(f->backup, &info, &diag), TV_E_IO);
  const char *msg = tv_store_io_error();
  assert_non_null(strstr(msg, "pread of keyring.tvk failed"));
  assert_non_null(strstr(msg, "(errno 21)")); /* EISDIR */
}

/* An extra file that cannot be opened names open, its path and errno. */
static void test_missing_extra_file_named(void **state) {
  fixture *f = *state;
  fill_store(f, 50);
  tv_store_options o = test_store_options(f->store, SEGMENT);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  char missing[400], dest[400];
  snprintf(missing, sizeof missing, "%s/no-such-keyring", f->root);
  snprintf(dest, sizeof dest, "%s/backup-2", f->root);
  const char *extra[] = {missing};
  tv_store_snapshot_info info;
  tv_store_io_error_clear();
  assert_int_equal(tv_store_snapshot(s, dest, extra, 1, &info), TV_E_IO);
  const char *msg = tv_store_io_error();
  assert_non_null(strstr(msg, "open of "));
  assert_non_null(strstr(msg, "/no-such-keyring failed"));
  assert_non_null(strstr(msg, "(errno 2)")); /* ENOENT */
  tv_store_close(s);
}

/* parse_with_crc parses |body| with a correct "end" line appended. */
static tv_status parse_with_crc(const char *body, tv_backup_manifest *m) {
  char text[512];
  size_t n = strlen(body);
  assert_true(n + 14 < sizeof text);
  memcpy(text, body, n);
  n += (size_t)snprintf(text + n, sizeof text - n, "end %08x\n", (unsigned)tv_crc32c_extend(0, body, n));
  return tv_backup_manifest_parse(text, n, m);
}

/* Only the writer's own form is accepted, even under a correct CRC: a
 * lenient reader (sscanf) took signs, leading zeros, doubled spaces and
 * uppercase hex, so a manifest could mean one thing and say another. */
static void test_manifest_only_canonical(void **state) {
  (void)state;
  static const char *const head = "tokenvault-backup 1\nlast_seq 7\nrecords 5\n";
  static const char *const bad[] = {
      "tokenvault-backup 1\nlast_seq +7\nrecords 5\n",
      "tokenvault-backup 1\nlast_seq 07\nrecords 5\n",
      "tokenvault-backup 1\nlast_seq  7\nrecords 5\n",
      "tokenvault-backup 1\nlast_seq\n7\nrecords 5\n",
      "tokenvault-backup 1\nlast_seq 7\nrecords -1\n",
      "tokenvault-backup 1\nlast_seq 18446744073709551616\nrecords 5\n",
      "tokenvault-backup 1\nlast_seq 7\nrecords 5\nfile seg-00000001.log 4096 ABCDEF01\n",
      "tokenvault-backup 1\nlast_seq 7\nrecords 5\nfile seg-00000001.log 4096 abcdef0\n",
      "tokenvault-backup 1\nlast_seq 7\nrecords 5\nfile  seg-00000001.log 4096 abcdef01\n",
      "tokenvault-backup 1\nlast_seq 7\nrecords 5\nfile seg-00000001.log 4096 abcdef01 \n",
  };
  tv_backup_manifest m;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (parse_with_crc(bad[i], &m) != TV_E_STORE_CORRUPT) {
      fail_msg("accepted a non-canonical manifest: %s", bad[i]);
    }
  }
  char good[256];
  snprintf(good, sizeof good, "%sfile seg-00000001.log 4096 abcdef01\n", head);
  assert_int_equal(parse_with_crc(good, &m), TV_OK);
  assert_true(m.last_seq == 7 && m.records == 5 && m.num_files == 1 && m.files[0].size == 4096 &&
              m.files[0].crc == 0xabcdef01u && m.files[0].is_segment);
  tv_backup_manifest_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_snapshot_while_appending, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tombstones_survive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restore_failure_names_call_and_errno, setup, teardown),
      cmocka_unit_test_setup_teardown(test_snapshot_failure_names_call_and_errno, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreadable_backup_file_named, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_extra_file_named, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flipped_byte_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_segment_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_segment_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_manifest_refused, setup, teardown),
      cmocka_unit_test(test_manifest_only_canonical),
      cmocka_unit_test_setup_teardown(test_damaged_keyring_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_non_empty_target_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_snapshot_into_non_empty_dir_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
