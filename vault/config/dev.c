/* The built-in development configuration. It is YAML parsed by the same
 * code as a file, so it can never drift from what the parser accepts, and
 * `tokenvaultd --dev` behaves like a daemon given this file. */
#include "vault/config/config.h"

static const char dev_yaml[] =
    "# tokenvaultd --dev: plaintext on loopback, state under ./var, SoftHSM.\n"
    "listen: 127.0.0.1:7443\n"
    "data_dir: ./var/data\n"
    "hsm:\n"
    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
    "  token_label: tokenvault-dev\n"
    "  pin_file: ./var/hsm/user.pin\n"
    "metrics:\n"
    "  listen: 127.0.0.1:9464\n"
    "audit:\n"
    "  dir: ./var/audit\n"
    "  checkpoint_interval: 10s\n"
    "namespaces:\n"
    "  - name: pan\n"
    "    format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19,\n"
    "             luhn: invalid}\n"
    "    convergent: true\n"
    "  - name: iban\n"
    "    format: {kind: iban, check: valid}\n"
    "    convergent: true\n"
    "  - name: bank_account\n"
    "    format: {kind: bank_account, keep_last: 4}\n"
    "    convergent: true\n"
    "  - name: ssn\n"
    "    format: {kind: us_ssn, keep_last: 0}\n"
    "    convergent: true\n"
    "  - name: tw_national_id\n"
    "    format: {kind: tw_national_id}\n"
    "    convergent: true\n"
    "  - name: cn_resident_id\n"
    "    format: {kind: cn_resident_id}\n"
    "    convergent: true\n"
    "  - name: de_tax_id\n"
    "    format: {kind: de_tax_id}\n"
    "    convergent: true\n"
    "roles:\n"
    "  - name: developer\n"
    "    permissions:\n"
    "      - namespace: pan\n"
    "        allow: [tokenize, 'detokenize:masked', 'detokenize:full', delete]\n"
    "      - {namespace: iban, allow: [tokenize, 'detokenize:masked', 'detokenize:full', delete]}\n"
    "      - {namespace: bank_account, allow: [tokenize, 'detokenize:masked', 'detokenize:full', "
    "delete]}\n"
    "      - {namespace: ssn, allow: [tokenize, 'detokenize:masked', 'detokenize:full', delete]}\n"
    "      - {namespace: tw_national_id, allow: [tokenize, 'detokenize:masked', "
    "'detokenize:full', delete]}\n"
    "      - {namespace: cn_resident_id, allow: [tokenize, 'detokenize:masked', "
    "'detokenize:full', delete]}\n"
    "      - {namespace: de_tax_id, allow: [tokenize, 'detokenize:masked', 'detokenize:full', "
    "delete]}\n"
    "      - namespace: '*'\n"
    "        allow: ['keys:read', 'keys:rotate', 'keys:approve', 'audit:read']\n"
    "    limits:\n"
    "      networks: [127.0.0.0/8, '::1/128']\n"
    "principals:\n"
    "  - name: '" CONFIG_DEV_PRINCIPAL "'\n"
    "    roles: [developer]\n";

const char *config_dev_yaml(void) {
  return dev_yaml;
}

tv_status config_dev(tv_config **out_config, config_error *err) {
  return config_parse(dev_yaml, sizeof(dev_yaml) - 1, out_config, err);
}
