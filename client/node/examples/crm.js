'use strict';
// A CRM customer model that stores only tokens. Card numbers and IBANs are
// tokenized before a record is saved; screens show the vault's masked
// values; only a job with the permission and a reason sees full values.
//
//   TOKENVAULT_TARGET=127.0.0.1:7443 TOKENVAULT_CA=ca.crt \
//   TOKENVAULT_CERT=crm.crt TOKENVAULT_KEY=crm.key node examples/crm.js
//   # or against `tokenvaultd --dev`: TOKENVAULT_INSECURE=1
//
// In your application: require('tokenvault') instead of require('..').

const tv = require('..');

/** The CRM's table: what is in it could leak without leaking a card number. */
const table = new Map();

class Customer {
  /**
   * @param {{id: string, name: string, panToken: string, ibanToken: string}} row stored fields.
   */
  constructor(row) {
    Object.assign(this, row);
  }

  /**
   * Tokenizes the sensitive fields and stores the customer.
   * @param {tv.Client} vault
   * @param {{id: string, name: string, pan: string, iban: string}} input from a sign-up form.
   * @returns {Promise<Customer>} the stored customer (tokens only).
   * @throws {tv.ItemError} when a field is not a valid card number / IBAN
   *   (err.codeName says which rule, e.g. FORMAT_LUHN) — show it on the form.
   */
  static async create(vault, input) {
    const [panToken] = await vault.tokenize('pan', [input.pan], { metadata: { source: 'crm' } });
    const [ibanToken] = await vault.tokenize('iban', [input.iban], { metadata: { source: 'crm' } });
    const customer = new Customer({ id: input.id, name: input.name, panToken, ibanToken });
    table.set(customer.id, { ...customer });
    return customer;
  }

  /**
   * What a support agent's screen shows: masked values.
   * @param {tv.Client} vault
   * @returns {Promise<{name: string, card: string, iban: string}>}
   */
  async display(vault) {
    const [card] = await vault.detokenize('pan', [this.panToken], { reveal: 'masked' });
    const [iban] = await vault.detokenize('iban', [this.ibanToken], { reveal: 'masked' });
    return { name: this.name, card, iban };
  }

  /**
   * The full card number, for a job allowed to see it (e.g. a chargeback).
   * @param {tv.Client} vault
   * @param {string} reason audited by the vault.
   * @returns {Promise<string>}
   */
  async revealCard(vault, reason) {
    const [pan] = await vault.detokenize('pan', [this.panToken], { reveal: 'full', reason });
    return pan;
  }

  /**
   * Right to erasure: the vault forgets the values, the CRM the row.
   * @param {tv.Client} vault
   * @param {{pan: string, iban: string}} values the customer's values (from their request).
   * @returns {Promise<number>} tokens erased in the vault.
   */
  async erase(vault, values) {
    const n = (await vault.erase('pan', values.pan, { reason: 'erasure request' })) +
      (await vault.erase('iban', values.iban, { reason: 'erasure request' }));
    table.delete(this.id);
    return n;
  }
}

/**
 * Connects as configured by the environment.
 * @returns {tv.Client}
 */
function connect() {
  const target = process.env.TOKENVAULT_TARGET || '127.0.0.1:7443';
  if (process.env.TOKENVAULT_INSECURE === '1') return new tv.Client(target, { insecure: true });
  return new tv.Client(target, {
    ca: process.env.TOKENVAULT_CA, cert: process.env.TOKENVAULT_CERT, key: process.env.TOKENVAULT_KEY,
  });
}

/**
 * The walk-through: sign-up, a bad card number, display, reveal, erasure.
 * @returns {Promise<void>}
 */
async function main() {
  const vault = connect();
  try {
    const input = { id: 'c-1001', name: 'Erika Mustermann', pan: '4111111111111111', iban: 'DE89370400440532013000' };
    const alice = await Customer.create(vault, input);
    console.log('stored record:', JSON.stringify(table.get(alice.id)));
    try {
      await Customer.create(vault, { ...input, id: 'c-1002', pan: '4111111111111112' });
    } catch (err) {
      if (!(err instanceof tv.ItemError)) throw err;
      console.log(`sign-up form error: ${err.codeName} (${err.statusMessage})`);
    }
    console.log('support screen:', JSON.stringify(await alice.display(vault)));
    console.log('chargeback job sees:', await alice.revealCard(vault, 'chargeback CB-42'));
    console.log('erased tokens:', await alice.erase(vault, input));
    const [after] = await vault.detokenizeItems('pan', [alice.panToken]);
    console.log('after erasure the token resolves to:', after.name);
  } finally {
    vault.close();
  }
}

main().catch((err) => {
  console.error(`crm example failed: ${err.message}`);
  process.exitCode = 1;
});
