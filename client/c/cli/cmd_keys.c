/* `tokenvault keys`: data keys and the two-officer KEK rotation. */
#include <string.h>

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/cmd_net.h"
#include "client/c/cli/net_args.h"

static const char keys_help[] =
    "usage: tokenvault keys list [--namespace NS]\n"
    "       tokenvault keys rotate --namespace NS [--reason TEXT]\n"
    "       tokenvault keys propose-kek [--reason TEXT]\n"
    "       tokenvault keys approve-kek PROPOSAL_ID\n"
    "       tokenvault keys status\n"
    "\n"
    "  list         data key versions and their states (every namespace by default)\n"
    "  rotate       make a new active data key version; old tokens keep working\n"
    "  propose-kek  propose rotating the HSM key-encryption key; a second officer\n"
    "               must approve it before it expires\n"
    "  approve-kek  approve another officer's proposal (not your own)\n"
    "  status       KEK version; per namespace rotated since the server started:\n"
    "               phase, records moved, bytes compacted, last error; proposals\n";

static const char *key_state(int s) {
  static const char *const names[] = {"unspecified", "active", "decrypt-only", "retired", "destroyed"};
  return s >= 0 && s <= 4 ? names[s] : "unknown";
}

static const char *proposal_state(int s) {
  static const char *const names[] = {"unspecified", "pending", "approved", "expired"};
  return s >= 0 && s <= 3 ? names[s] : "unknown";
}

static void print_keys(const tv_client_result *r, FILE *out) {
  for (size_t i = 0; i < r->keys_count; i++) {
    const tv_client_key *k = &r->keys[i];
    fprintf(out, "%s\tv%u\t%s\tkek v%u\n", k->namespace_name, k->version, key_state(k->state), k->kek_version);
  }
}

static void print_proposals(const tv_client_result *r, FILE *out) {
  for (size_t i = 0; i < r->proposals_count; i++) {
    const tv_client_proposal *p = &r->proposals[i];
    fprintf(out, "proposal %s\t%s\tproposed by %s", p->proposal_id, proposal_state(p->state), p->proposed_by);
    if (p->approved_by[0] != '\0') fprintf(out, "\tapproved by %s", p->approved_by);
    fputc('\n', out);
  }
}

static const char *rotation_phase(int p) {
  static const char *const names[] = {"unspecified", "queued", "re-encrypting", "compacting", "done", "retrying"};
  return p >= 0 && p <= 5 ? names[p] : "unknown";
}

/* One line per namespace whose data key was rotated since the server
 * started: phase, records moved of the total, compaction bytes, and why
 * the last attempt failed. */
static void print_rotations(const tv_client_result *r, FILE *out) {
  for (size_t i = 0; i < r->rotations_count; i++) {
    const tv_client_rotation *d = &r->rotations[i];
    fprintf(out, "data key %s	v%u	%s	records %llu/", d->namespace_name, d->active_version,
            rotation_phase(d->phase), (unsigned long long)d->records_done);
    if (d->records_total != 0) fprintf(out, "%llu", (unsigned long long)d->records_total);
    else fputc('?', out);
    if (d->bytes_total != 0) {
      fprintf(out, "	compacted %llu/%llu bytes", (unsigned long long)d->bytes_done,
              (unsigned long long)d->bytes_total);
    }
    if (d->failed_attempts != 0 || d->last_error[0] != '\0') {
      fprintf(out, "	failed attempts %u	last error %s", d->failed_attempts,
              d->last_error[0] != '\0' ? d->last_error : "none");
    }
    fputc('\n', out);
  }
}

/* Runs subcommand |sub| (a.rest[0]) with its arguments. */
static tv_client_code run_sub(tv_client *c, const net_args *a, const char *sub, tv_client_result **r,
                              tv_client_error *e, FILE *out) {
  tv_client_code code;
  if (strcmp(sub, "list") == 0) {
    code = tv_client_keys_list(c, r, a->ns, e);
    if (code == TV_CLIENT_OK) print_keys(*r, out);
  } else if (strcmp(sub, "rotate") == 0) {
    code = tv_client_keys_rotate(c, r, a->ns, a->reason, e);
    if (code == TV_CLIENT_OK) print_keys(*r, out);
  } else if (strcmp(sub, "propose-kek") == 0) {
    code = tv_client_kek_propose(c, r, a->reason, e);
    if (code == TV_CLIENT_OK) {
      print_proposals(*r, out);
      fprintf(out, "a second officer approves with: tokenvault keys approve-kek %s\n", (*r)->proposals[0].proposal_id);
    }
  } else if (strcmp(sub, "approve-kek") == 0) {
    code = tv_client_kek_approve(c, r, a->rest[1], e);
    if (code == TV_CLIENT_OK) print_proposals(*r, out);
  } else {
    code = tv_client_rotation_status(c, r, e);
    if (code == TV_CLIENT_OK) {
      fprintf(out, "kek v%u\tdata keys pending rewrap: %llu\n", (*r)->kek_version,
              (unsigned long long)(*r)->data_keys_pending_rewrap);
      print_rotations(*r, out);
      print_proposals(*r, out);
    }
  }
  return code;
}

/* The subcommand and its positional arguments are right, or a usage line. */
static int check_sub(const net_args *a, FILE *err) {
  static const char *const subs[] = {"list", "rotate", "propose-kek", "approve-kek", "status"};
  const char *sub = a->rest_count > 0 ? a->rest[0] : "";
  int known = 0;
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) known |= strcmp(sub, subs[i]) == 0;
  int want = strcmp(sub, "approve-kek") == 0 ? 2 : 1;
  if (!known || a->rest_count != want) {
    fprintf(err, "tokenvault keys: expected list, rotate, propose-kek, approve-kek PROPOSAL_ID or status "
                 "(see tokenvault keys --help)\n");
    return CLI_EXIT_USAGE;
  }
  if (strcmp(sub, "rotate") == 0) return net_require_ns(a, err, "keys rotate");
  return 0;
}

int keys_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  (void)in;
  net_args a;
  int rc = net_args_parse(&a, argc, argv, err, "keys");
  if (rc != 0) return rc;
  if (!a.help) {
    rc = check_sub(&a, err);
    if (rc != 0) return rc;
  }
  tv_client *c = NULL;
  rc = net_command_start(&a, &c, argc, argv, keys_help, out, err);
  if (rc >= 0) return rc;
  tv_client_result *r = NULL;
  tv_client_error e = {0};
  if (run_sub(c, &a, a.rest[0], &r, &e, out) != TV_CLIENT_OK) rc = net_report(err, "keys", &a, &e);
  else rc = CLI_EXIT_OK;
  tv_client_result_free(r);
  tv_client_free(c);
  return rc;
}
