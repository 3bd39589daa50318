#include "vault/format/sensitive_text.h"

#include <assert.h>
#include <string.h>

#include "vault/format/iban_countries.h"
#include "vault/format/iso7064.h"
#include "vault/format/luhn.h"

#define PAN_DIGITS_MIN 13u
#define PAN_DIGITS_MAX 19u

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_alnum(char c) { return is_digit(c) || is_alpha(c); }
static int is_pan_sep(char c) { return c == ' ' || c == '-'; }
static char upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

/* End of the chain of digit groups that starts at |i| (a digit). */
static size_t chain_end(const char *t, size_t len, size_t i) {
  for (;;) {
    while (i < len && is_digit(t[i])) {
      i++;
    }
    if (i + 1 < len && is_pan_sep(t[i]) && is_digit(t[i + 1])) {
      i++;
      continue;
    }
    return i;
  }
}

/* Whether whole groups from the group at |g| (up to |end|) make a
 * Luhn-valid number of 13..19 digits. */
static int groups_from_match(const char *t, size_t g, size_t end) {
  char digits[PAN_DIGITS_MAX];
  size_t n = 0;
  for (size_t i = g; i < end; i++) {
    if (!is_digit(t[i])) {
      continue; /* a separator */
    }
    if (n == PAN_DIGITS_MAX) {
      return 0;
    }
    digits[n++] = t[i];
    int group_ends = i + 1 == end || !is_digit(t[i + 1]);
    if (group_ends && n >= PAN_DIGITS_MIN && luhn_valid(digits, n)) {
      return 1;
    }
  }
  return 0;
}

static int chain_matches(const char *t, size_t start, size_t end) {
  for (size_t g = start; g < end; g++) {
    int group_starts = is_digit(t[g]) && (g == start || !is_digit(t[g - 1]));
    if (group_starts && groups_from_match(t, g, end)) {
      return 1;
    }
  }
  return 0;
}

static int find_pan(const char *t, size_t len, size_t from, size_t *out_start, size_t *out_end) {
  size_t i = from;
  while (i < len) {
    if (!is_digit(t[i])) {
      i++;
      continue;
    }
    size_t end = chain_end(t, len, i);
    if (chain_matches(t, i, end)) {
      *out_start = i;
      *out_end = end;
      return 1;
    }
    i = end;
  }
  return 0;
}

/* MOD 97-10 over the IBAN's first |n| characters, moved as the standard
 * says (the first four to the end). */
static int iban_check_ok(const char *chars, size_t n) {
  char moved[IBAN_LENGTH_MAX];
  memcpy(moved, chars + 4, n - 4);
  memcpy(moved + n - 4, chars, 4);
  return iso7064_mod97_remainder(moved, n) == 1;
}

/* The IBAN starting at |i| (two letters, two digits), if any: its end. */
static int iban_at(const char *t, size_t len, size_t i, size_t *out_end) {
  char chars[IBAN_LENGTH_MAX];
  size_t ends[IBAN_LENGTH_MAX];
  size_t n = 0;
  for (size_t k = i; k < len && n < IBAN_LENGTH_MAX;) {
    if (is_alnum(t[k])) {
      chars[n] = upper(t[k]);
      ends[n++] = ++k;
    } else if (t[k] == ' ' && n >= 4 && k + 1 < len && is_alnum(t[k + 1])) {
      k++;
    } else {
      break;
    }
  }
  int country = n >= 4 ? iban_country_find(chars) : -1;
  if (country < 0) {
    return 0;
  }
  /* The country's exact length: the match then depends only on the
   * characters it covers, never on what follows (which a redaction may
   * change), so redacted text holds no IBAN the scan missed. */
  size_t l = iban_country_at((size_t)country)->length;
  if (n < l || !iban_check_ok(chars, l)) {
    return 0;
  }
  *out_end = ends[l - 1];
  return 1;
}

static int find_iban(const char *t, size_t len, size_t from, size_t *out_start, size_t *out_end) {
  for (size_t i = from; i + 4 <= len; i++) {
    int word_start = i == from || !is_alnum(t[i - 1]);
    if (word_start && is_alpha(t[i]) && is_alpha(t[i + 1]) && is_digit(t[i + 2]) && is_digit(t[i + 3]) &&
        iban_at(t, len, i, out_end)) {
      *out_start = i;
      return 1;
    }
  }
  return 0;
}

tv_sensitive_kind tv_sensitive_find(const char *text, size_t len, size_t from, size_t *out_start, size_t *out_end) {
  assert(text != NULL || len == 0);
  size_t ps = 0, pe = 0, is = 0, ie = 0;
  int pan = from < len && find_pan(text, len, from, &ps, &pe);
  int iban = from < len && find_iban(text, len, from, &is, &ie);
  if (iban && (!pan || is <= ps)) {
    *out_start = is;
    *out_end = ie;
    return TV_SENSITIVE_IBAN;
  }
  if (pan) {
    *out_start = ps;
    *out_end = pe;
    return TV_SENSITIVE_PAN;
  }
  return TV_SENSITIVE_NONE;
}

typedef struct out_buf {
  char *p;
  size_t max; /* bytes before the NUL */
  size_t len;
  int cut;
} out_buf;

static void emit(out_buf *o, const char *s, size_t n) {
  size_t room = o->max - o->len;
  size_t take = n <= room ? n : room;
  memcpy(o->p + o->len, s, take);
  o->len += take;
  o->cut |= take < n;
}

/* Back to just after the last ASCII non-alphanumeric byte: the groups and
 * IBAN runs before it are whole, so nothing new can match. */
static void cut_safely(out_buf *o) {
  while (o->len > 0) {
    unsigned char c = (unsigned char)o->p[o->len - 1];
    if (c < 0x80 && !is_alnum((char)c)) {
      return;
    }
    o->len--;
  }
}

size_t tv_sensitive_redact(char *out, size_t out_max, const char *in, size_t in_len, int *out_cut) {
  assert(out != NULL && out_max >= 1);
  out_buf o = {out, out_max - 1, 0, 0};
  size_t pos = 0, found = 0, s = 0, e = 0;
  tv_sensitive_kind kind;
  while (!o.cut && (kind = tv_sensitive_find(in, in_len, pos, &s, &e)) != TV_SENSITIVE_NONE) {
    emit(&o, in + pos, s - pos);
    const char *mark = kind == TV_SENSITIVE_PAN ? TV_SENSITIVE_PAN_MARK : TV_SENSITIVE_IBAN_MARK;
    emit(&o, mark, strlen(mark));
    found++;
    pos = e;
  }
  if (!o.cut) {
    emit(&o, in + pos, in_len - pos);
  }
  if (o.cut) {
    cut_safely(&o);
  }
  out[o.len] = '\0';
  if (out_cut != NULL) {
    *out_cut = o.cut;
  }
  return found;
}

const char *tv_sensitive_name(tv_sensitive_kind kind) {
  return kind == TV_SENSITIVE_IBAN ? "an IBAN" : "a card number";
}
