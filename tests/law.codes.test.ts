/**
 * The law's rejection codes, without a database: every code in REJECT_CODES is produced by a
 * minimal proposal (ID_CONFLICT is the writer's, see ledger.law.test.ts), MALFORMED comes in all
 * its flavours, and a proposal breaking two rules reports the one earlier in the precedence order.
 */
import { strict as assert } from 'node:assert';
import { validate, REJECT_CODES, CODE_DESCRIPTIONS, precedenceOf, LIMITS, type RejectCode, type MemoryWorld } from '../validator';
import { lawWorld, commit, assertRejected, assertAccepted, T0, nextId, pid, tx, offer, accept, cancel, policySet } from './support/law-world';
import { HASH, write, del, purchase, cancelListing, invokeRecord, judgement, blob, artifactBy, listedByA, diskFull } from './support/artifact-world';

/** A world (policy patch + setup) and a proposal built against it. */
interface Case {
  patch?: Record<string, unknown>;
  setup?: (w: MemoryWorld) => void;
  input: (w: MemoryWorld) => unknown;
}

function run(c: Case) {
  const w = lawWorld(c.patch);
  c.setup?.(w);
  return validate(w, c.input(w));
}

const openBreaker = (w: MemoryWorld) => {
  w.breaker = { open: true, reason: 'test halt', by: 'council' };
};
/** A has used its whole allowance (1 action per 10 s) just now. */
const RATE_1 = { rate_limit: { max_actions: 1, window_ms: 10_000 } };
const exhaustA = (w: MemoryWorld) => w.recordAction('A', T0);
/** An open offer by A (10 credits for 20 energy), id pid(1001); with `expires_at` optional. */
const offerByA = (extra: Record<string, unknown> = {}) => (w: MemoryWorld) => assertAccepted(commit(w, { ...offer('A', ['credits', 10], ['energy', 20], extra), proposal_id: pid(1001) }));
const cancelledOfferByA = (w: MemoryWorld) => {
  offerByA()(w);
  assertAccepted(commit(w, cancel('A', pid(1001))));
};
const expiredOfferByA = (w: MemoryWorld) => {
  offerByA({ expires_at: T0 + 10 })(w);
  w.now = T0 + 11;
};

/** One minimal proposal per code the law decides. Typed so that a new code fails to compile here. */
const MINIMAL: Record<Exclude<RejectCode, 'ID_CONFLICT'>, Case> = {
  MALFORMED: { input: () => '{"proposal_id": oops' },
  SELF_TRANSFER: { input: () => tx('A', 'A', 1) },
  AMOUNT_NOT_POSITIVE: { input: () => tx('A', 'B', 0) },
  UNKNOWN_ACTOR: { input: () => tx('A', 'ZED', 1) },
  UNKNOWN_RESOURCE: { input: () => tx('A', 'B', 1, { resource: 'gold' }) },
  OFFER_NOT_FOUND: { input: () => accept('B', pid(999_999)) },
  OFFER_NOT_OPEN: { setup: cancelledOfferByA, input: () => accept('B', pid(1001)) },
  OFFER_EXPIRED: { setup: expiredOfferByA, input: () => accept('B', pid(1001)) },
  NOT_AUTHORIZED: { input: () => ({ ...tx('B', 'A', 1), agent: 'A' }) },
  CIRCUIT_OPEN: { setup: openBreaker, input: () => tx('A', 'B', 1) },
  RATE_LIMITED: { patch: RATE_1, setup: exhaustA, input: () => tx('A', 'B', 1) },
  POLICY_INVALID: { input: () => policySet('council', { carbon_tax: { mode: 'treasury', treasury: 'B' } }) },
  EXCEEDS_MAX_TRANSFER: { patch: { resources: { credits: { max_transfer: 10 } } }, input: () => tx('A', 'B', 11) },
  INSUFFICIENT_BALANCE: { input: () => tx('A', 'B', 101) },
  BELOW_MIN_BALANCE: { patch: { resources: { credits: { min_balance: 10 } } }, input: () => tx('A', 'B', 95) },
  BALANCE_OVERFLOW: { setup: (w) => w.setBalance('B', 'credits', LIMITS.proposal.maxBalance), input: () => tx('A', 'B', 1) },
  // Artifact economy (validator/artifacts.ts).
  ARTIFACT_NOT_FOUND: { input: () => del('A', 'nope') },
  ARTIFACT_DELETED: { setup: (w) => (artifactBy('A')(w), assertAccepted(commit(w, del('A', 'art1')))), input: () => write('A', 'art1', HASH(1)) },
  ARTIFACT_ID_TAKEN: { setup: (w) => blob(w), input: () => write('A', 'B', HASH(1)) },
  CONTENT_NOT_FOUND: { input: () => write('A', 'art1', HASH(9)) },
  LISTING_NOT_FOUND: { input: () => cancelListing('A', pid(777_777)) },
  LISTING_NOT_OPEN: { setup: (w) => (listedByA(pid(2001))(w), assertAccepted(commit(w, cancelListing('A', pid(2001))))), input: () => purchase('B', pid(2001)) },
  STALE_RUN: { setup: artifactBy('A'), input: () => invokeRecord('B', 'art1', {}, 2) },
  QUOTA_EXCEEDED: { setup: (w) => blob(w, 1, LIMITS.sandbox.maxCodeBytes + 1), input: () => write('A', 'art1', HASH(1)) },
  JUDICIARY_FAILED: { setup: listedByA(pid(2002), 10, 'test1'), input: () => purchase('system', pid(2002), { buyer: 'B', judiciary: judgement('test1', 1, 1, false) }) },
};

describe('law: every rejection code', () => {
  it('GIVEN the code list WHEN read THEN codes are unique UPPER_SNAKE, each has a description, and ID_CONFLICT is the only one left to the writer', () => {
    assert.equal(new Set(REJECT_CODES).size, REJECT_CODES.length);
    for (const c of REJECT_CODES) {
      assert.match(c, /^[A-Z]+(_[A-Z]+)*$/);
      assert.ok(CODE_DESCRIPTIONS[c].length > 10, c);
    }
    assert.deepEqual(REJECT_CODES.filter((c) => !(c in MINIMAL)), ['ID_CONFLICT']);
  });

  for (const [code, c] of Object.entries(MINIMAL) as Array<[RejectCode, Case]>) {
    it(`GIVEN the blueprint world WHEN a minimal proposal breaks only the ${code} rule THEN it is rejected ${code}`, () => {
      assertRejected(run(c), code);
    });
  }

  it('GIVEN the seed TradeJSON without a kind WHEN validated THEN it is read as a transfer and accepted', () => {
    const d = validate(lawWorld(), { proposal_id: nextId(), agent: 'A', from: 'A', to: 'B', resource: 'credits', amount: 30, reasoning: 'seed shape' });
    assertAccepted(d);
    assert.equal(d.effects.length, 1);
    assert.deepEqual([d.effects[0].kind, d.effects[0].from, d.effects[0].to, d.effects[0].amount], ['transfer', 'A', 'B', 30n]);
  });
});

describe('law: MALFORMED in every flavour', () => {
  const good = () => tx('A', 'B', 1);
  const without = (k: string) => {
    const p: Record<string, unknown> = good();
    delete p[k];
    return p;
  };
  const big = 'x'.repeat(LIMITS.proposal.maxBytes);
  const flavours: Array<[string, unknown]> = [
    ['text that is not JSON', '{"proposal_id": oops'],
    ['an empty string', ''],
    ['a JSON array (text)', JSON.stringify([good()])],
    ['an array value', [good()]],
    ['JSON null', 'null'],
    ['a number', 42],
    ['undefined', undefined],
    ['a missing agent', without('agent')],
    ['a missing amount', without('amount')],
    ['a missing proposal_id', without('proposal_id')],
    ['a proposal_id that is not a UUID', { ...good(), proposal_id: 'p-1' }],
    ['a float amount', { ...good(), amount: 1.5 }],
    ['a float amount in JSON text', JSON.stringify(good()).replace('"amount":1', '"amount":1.5')],
    ['a decimal-point string amount', { ...good(), amount: '1.5' }],
    ['an exponent string amount', { ...good(), amount: '1e3' }],
    ['NaN as a number', { ...good(), amount: Number.NaN }],
    ['Infinity as a string', { ...good(), amount: 'Infinity' }],
    ['an amount beyond the safe integers', { ...good(), amount: 2 ** 53 + 2 }],
    ['an amount above LIMITS.proposal.maxAmount', { ...good(), amount: (LIMITS.proposal.maxAmount + 1n).toString() }],
    ['an unknown kind', { ...good(), kind: 'steal' }],
    ['a kind that is a prototype key', { ...good(), kind: '__proto__' }],
    ['an extra field', { ...good(), memo: 'hi' }],
    ['a __proto__ key in JSON text', JSON.stringify(good()).replace('{', '{"__proto__":{"kind":"mint"},')],
    ['an id one character too long', { ...good(), to: 'B'.repeat(LIMITS.proposal.maxIdLength + 1) }],
    ['an id with whitespace', { ...good(), to: 'B B' }],
    ['reasoning over its length limit', { ...good(), reasoning: 'r'.repeat(LIMITS.proposal.maxReasoningLength + 1) }],
    ['an oversize payload (text)', JSON.stringify({ ...good(), reasoning: big })],
    ['oversize non-JSON text', big + '!'],
    ['an offer leg with an extra key', { ...offer('A', ['credits', 1], ['energy', 1]), give: { resource: 'credits', amount: 1, bonus: 1 } }],
    ['a breaker_set without a reason', { kind: 'breaker_set', proposal_id: nextId(), agent: 'council', open: true }],
    ['a policy with bps above 100 %', policySet('council', { carbon_tax: { bps: 10_001 } })],
    ['a rate-limit window above LIMITS.rate.maxWindowMs', policySet('council', { rate_limit: { window_ms: LIMITS.rate.maxWindowMs + 1 } })],
    ['a negative expiry', offer('A', ['credits', 1], ['energy', 1], { expires_at: -1 })],
  ];
  for (const [name, input] of flavours) {
    it(`GIVEN ${name} WHEN validated THEN MALFORMED with a readable message`, () => {
      assertRejected(validate(lawWorld(), input), 'MALFORMED');
    });
  }

  it('GIVEN an oversize payload WHEN validated THEN the message names the byte limit (not a field error)', () => {
    const d = validate(lawWorld(), JSON.stringify({ ...good(), reasoning: big }));
    assert.equal(!d.ok && d.message, `proposal is larger than ${LIMITS.proposal.maxBytes} bytes`);
  });

  it('GIVEN a schema error WHEN validated THEN the details name the offending field path', () => {
    const d = validate(lawWorld(), { ...good(), amount: 1.5 });
    assert.equal(d.ok, false);
    const issues = (!d.ok && (d.details?.issues as Array<{ path: string[] }>)) || [];
    assert.deepEqual(issues[0].path, ['amount']);
  });
});

/**
 * Precedence: `both` breaks rules `first` and `second`; `onlyFirst` / `onlySecond` break one of
 * them each, proving that both rules really are broken by `both` (a row cannot pass vacuously).
 */
interface Pair {
  first: RejectCode;
  second: RejectCode;
  both: Case;
  onlyFirst: Case;
  onlySecond: Case;
}

const MAX_10 = { resources: { credits: { max_transfer: 10 } } };
const MIN_10 = { resources: { credits: { min_balance: 10 } } };
const BAD_TREASURY = { carbon_tax: { mode: 'treasury', treasury: 'B' } };

/** A listing pid(3001) of A's art1 at 10 credits; `test1` by C, when given, must pass. */
const L1 = pid(3001);
const QUOTA = LIMITS.sandbox.diskQuotaBytes;
const cancelledL1 = (w: MemoryWorld) => (listedByA(L1)(w), assertAccepted(commit(w, cancelListing('A', L1))));
const deletedArt1 = (w: MemoryWorld) => (artifactBy('A')(w), assertAccepted(commit(w, del('A', 'art1'))));
/** An invoke record in which the invoker, not the artifact, "pays" from inside art1's code. */
const forgedPay = { payments: [[1, 'pay', 'A', 'B', 'credits', '5']] };

const PAIRS: Pair[] = [
  { first: 'MALFORMED', second: 'SELF_TRANSFER', both: { input: () => tx('A', 'A', 1.5) }, onlyFirst: { input: () => tx('A', 'B', 1.5) }, onlySecond: { input: () => tx('A', 'A', 1) } },
  { first: 'SELF_TRANSFER', second: 'AMOUNT_NOT_POSITIVE', both: { input: () => tx('A', 'A', 0) }, onlyFirst: { input: () => tx('A', 'A', 1) }, onlySecond: { input: () => tx('A', 'B', 0) } },
  { first: 'SELF_TRANSFER', second: 'INSUFFICIENT_BALANCE', both: { input: () => tx('A', 'A', 1000) }, onlyFirst: { input: () => tx('A', 'A', 1) }, onlySecond: { input: () => tx('A', 'B', 1000) } },
  { first: 'AMOUNT_NOT_POSITIVE', second: 'UNKNOWN_ACTOR', both: { input: () => tx('A', 'ZED', -5) }, onlyFirst: { input: () => tx('A', 'B', -5) }, onlySecond: { input: () => tx('A', 'ZED', 5) } },
  { first: 'UNKNOWN_ACTOR', second: 'UNKNOWN_RESOURCE', both: { input: () => tx('A', 'ZED', 1, { resource: 'gold' }) }, onlyFirst: { input: () => tx('A', 'ZED', 1) }, onlySecond: { input: () => tx('A', 'B', 1, { resource: 'gold' }) } },
  // A moves holdings of an actor that does not exist (unknown) vs. of B (not its own).
  { first: 'UNKNOWN_ACTOR', second: 'NOT_AUTHORIZED', both: { input: () => ({ ...tx('ZED', 'B', 1), agent: 'A' }) }, onlyFirst: { input: () => tx('A', 'ZED', 1) }, onlySecond: { input: () => ({ ...tx('B', 'C', 1), agent: 'A' }) } },
  { first: 'UNKNOWN_RESOURCE', second: 'NOT_AUTHORIZED', both: { input: () => ({ ...tx('B', 'C', 1, { resource: 'gold' }), agent: 'A' }) }, onlyFirst: { input: () => tx('A', 'B', 1, { resource: 'gold' }) }, onlySecond: { input: () => ({ ...tx('B', 'C', 1), agent: 'A' }) } },
  { first: 'UNKNOWN_RESOURCE', second: 'POLICY_INVALID', both: { input: () => policySet('council', { ...BAD_TREASURY, resources: { gold: { max_transfer: 1 } } }) }, onlyFirst: { input: () => policySet('council', { resources: { gold: { max_transfer: 1 } } }) }, onlySecond: { input: () => policySet('council', BAD_TREASURY) } },
  // The system may not accept offers at all; an offer that does not exist is reported first.
  { first: 'OFFER_NOT_FOUND', second: 'NOT_AUTHORIZED', both: { setup: offerByA(), input: () => accept('system', pid(999_999)) }, onlyFirst: { setup: offerByA(), input: () => accept('B', pid(999_999)) }, onlySecond: { setup: offerByA(), input: () => accept('system', pid(1001)) } },
  { first: 'OFFER_NOT_OPEN', second: 'NOT_AUTHORIZED', both: { setup: cancelledOfferByA, input: () => accept('A', pid(1001)) }, onlyFirst: { setup: cancelledOfferByA, input: () => accept('B', pid(1001)) }, onlySecond: { setup: offerByA(), input: () => accept('A', pid(1001)) } },
  { first: 'OFFER_EXPIRED', second: 'NOT_AUTHORIZED', both: { setup: expiredOfferByA, input: () => accept('A', pid(1001)) }, onlyFirst: { setup: expiredOfferByA, input: () => accept('B', pid(1001)) }, onlySecond: { setup: offerByA(), input: () => accept('A', pid(1001)) } },
  // C holds no energy, so it could not pay the offer's `want` leg either.
  { first: 'OFFER_EXPIRED', second: 'INSUFFICIENT_BALANCE', both: { setup: expiredOfferByA, input: () => accept('C', pid(1001)) }, onlyFirst: { setup: expiredOfferByA, input: () => accept('B', pid(1001)) }, onlySecond: { setup: offerByA(), input: () => accept('C', pid(1001)) } },
  { first: 'NOT_AUTHORIZED', second: 'CIRCUIT_OPEN', both: { setup: openBreaker, input: () => ({ ...tx('B', 'C', 1), agent: 'A' }) }, onlyFirst: { input: () => ({ ...tx('B', 'C', 1), agent: 'A' }) }, onlySecond: { setup: openBreaker, input: () => tx('A', 'B', 1) } },
  { first: 'NOT_AUTHORIZED', second: 'POLICY_INVALID', both: { input: () => policySet('A', BAD_TREASURY) }, onlyFirst: { input: () => policySet('A', { carbon_tax: { bps: 1 } }) }, onlySecond: { input: () => policySet('council', BAD_TREASURY) } },
  { first: 'CIRCUIT_OPEN', second: 'RATE_LIMITED', both: { patch: RATE_1, setup: (w) => (exhaustA(w), openBreaker(w)), input: () => tx('A', 'B', 1) }, onlyFirst: { setup: openBreaker, input: () => tx('A', 'B', 1) }, onlySecond: { patch: RATE_1, setup: exhaustA, input: () => tx('A', 'B', 1) } },
  { first: 'CIRCUIT_OPEN', second: 'INSUFFICIENT_BALANCE', both: { setup: openBreaker, input: () => tx('A', 'B', 1000) }, onlyFirst: { setup: openBreaker, input: () => tx('A', 'B', 1) }, onlySecond: { input: () => tx('A', 'B', 1000) } },
  { first: 'RATE_LIMITED', second: 'EXCEEDS_MAX_TRANSFER', both: { patch: { ...RATE_1, ...MAX_10 }, setup: exhaustA, input: () => tx('A', 'B', 11) }, onlyFirst: { patch: { ...RATE_1, ...MAX_10 }, setup: exhaustA, input: () => tx('A', 'B', 1) }, onlySecond: { patch: { ...RATE_1, ...MAX_10 }, input: () => tx('A', 'B', 11) } },
  { first: 'RATE_LIMITED', second: 'INSUFFICIENT_BALANCE', both: { patch: RATE_1, setup: exhaustA, input: () => tx('A', 'B', 1000) }, onlyFirst: { patch: RATE_1, setup: exhaustA, input: () => tx('A', 'B', 1) }, onlySecond: { patch: RATE_1, input: () => tx('A', 'B', 1000) } },
  { first: 'EXCEEDS_MAX_TRANSFER', second: 'INSUFFICIENT_BALANCE', both: { patch: MAX_10, input: () => tx('A', 'B', 1000) }, onlyFirst: { patch: MAX_10, input: () => tx('A', 'B', 11) }, onlySecond: { patch: { resources: { credits: { max_transfer: 10_000 } } }, input: () => tx('A', 'B', 1000) } },
  { first: 'EXCEEDS_MAX_TRANSFER', second: 'BELOW_MIN_BALANCE', both: { patch: { resources: { credits: { max_transfer: 50, min_balance: 60 } } }, input: () => tx('A', 'B', 51) }, onlyFirst: { patch: { resources: { credits: { max_transfer: 50 } } }, input: () => tx('A', 'B', 51) }, onlySecond: { patch: { resources: { credits: { min_balance: 60 } } }, input: () => tx('A', 'B', 51) } },
  { first: 'INSUFFICIENT_BALANCE', second: 'BELOW_MIN_BALANCE', both: { patch: MIN_10, input: () => tx('A', 'B', 150) }, onlyFirst: { input: () => tx('A', 'B', 150) }, onlySecond: { patch: MIN_10, input: () => tx('A', 'B', 95) } },
  // Artifact economy.
  { first: 'ARTIFACT_NOT_FOUND', second: 'NOT_AUTHORIZED', both: { input: () => ({ ...invokeRecord('A', 'nope'), agent: 'A' }) }, onlyFirst: { input: () => invokeRecord('A', 'nope') }, onlySecond: { setup: artifactBy('C'), input: () => ({ ...invokeRecord('A', 'art1'), agent: 'A' }) } },
  { first: 'ARTIFACT_DELETED', second: 'NOT_AUTHORIZED', both: { setup: deletedArt1, input: () => del('B', 'art1') }, onlyFirst: { setup: deletedArt1, input: () => del('A', 'art1') }, onlySecond: { setup: artifactBy('A'), input: () => del('B', 'art1') } },
  { first: 'ARTIFACT_ID_TAKEN', second: 'CONTENT_NOT_FOUND', both: { input: () => write('A', 'B', HASH(9)) }, onlyFirst: { setup: (w) => blob(w), input: () => write('A', 'B', HASH(1)) }, onlySecond: { input: () => write('A', 'art9', HASH(9)) } },
  { first: 'CONTENT_NOT_FOUND', second: 'NOT_AUTHORIZED', both: { setup: artifactBy('A'), input: () => write('B', 'art1', HASH(9)) }, onlyFirst: { setup: artifactBy('A'), input: () => write('A', 'art1', HASH(9)) }, onlySecond: { setup: artifactBy('A'), input: () => write('B', 'art1', HASH(1)) } },
  { first: 'LISTING_NOT_FOUND', second: 'NOT_AUTHORIZED', both: { input: () => purchase('treasury', pid(3999)) }, onlyFirst: { input: () => purchase('B', pid(3999)) }, onlySecond: { setup: listedByA(L1), input: () => purchase('treasury', L1) } },
  { first: 'LISTING_NOT_OPEN', second: 'NOT_AUTHORIZED', both: { setup: cancelledL1, input: () => cancelListing('C', L1) }, onlyFirst: { setup: cancelledL1, input: () => cancelListing('A', L1) }, onlySecond: { setup: listedByA(L1), input: () => cancelListing('C', L1) } },
  { first: 'STALE_RUN', second: 'NOT_AUTHORIZED', both: { setup: artifactBy('C'), input: () => invokeRecord('A', 'art1', forgedPay, 2) }, onlyFirst: { setup: artifactBy('C'), input: () => invokeRecord('A', 'art1', {}, 2) }, onlySecond: { setup: artifactBy('C'), input: () => invokeRecord('A', 'art1', forgedPay) } },
  { first: 'INSUFFICIENT_BALANCE', second: 'QUOTA_EXCEEDED', both: { setup: (w) => (listedByA(L1, 60)(w), diskFull('B', QUOTA)(w)), input: () => purchase('B', L1) }, onlyFirst: { setup: listedByA(L1, 60), input: () => purchase('B', L1) }, onlySecond: { setup: (w) => (listedByA(L1)(w), diskFull('B', QUOTA)(w)), input: () => purchase('B', L1) } },
  { first: 'QUOTA_EXCEEDED', second: 'JUDICIARY_FAILED', both: { setup: (w) => (listedByA(L1, 10, 'test1')(w), diskFull('B', QUOTA)(w)), input: () => purchase('system', L1, { buyer: 'B', judiciary: judgement('test1', 1, 1, false) }) }, onlyFirst: { setup: (w) => (listedByA(L1, 10, 'test1')(w), diskFull('B', QUOTA)(w)), input: () => purchase('system', L1, { buyer: 'B', judiciary: judgement('test1', 1, 1, true) }) }, onlySecond: { setup: listedByA(L1, 10, 'test1'), input: () => purchase('system', L1, { buyer: 'B', judiciary: judgement('test1', 1, 1, false) }) } },
  { first: 'BELOW_MIN_BALANCE', second: 'BALANCE_OVERFLOW', both: { patch: MIN_10, setup: (w) => w.setBalance('B', 'credits', LIMITS.proposal.maxBalance), input: () => tx('A', 'B', 95) }, onlyFirst: { patch: MIN_10, input: () => tx('A', 'B', 95) }, onlySecond: { setup: (w) => w.setBalance('B', 'credits', LIMITS.proposal.maxBalance), input: () => tx('A', 'B', 95) } },
];

describe('law: precedence — a proposal breaking two rules reports the earlier one', () => {
  for (const p of PAIRS) {
    it(`GIVEN a proposal breaking ${p.first} and ${p.second} WHEN validated THEN ${p.first} is reported (and each rule alone gives its own code)`, () => {
      assert.ok(precedenceOf(p.first) < precedenceOf(p.second), `${p.first} must precede ${p.second} in REJECT_CODES`);
      assertRejected(run(p.onlyFirst), p.first);
      assertRejected(run(p.onlySecond), p.second);
      assertRejected(run(p.both), p.first);
    });
  }

  it('GIVEN the pair table WHEN read THEN every code the law decides appears in at least one pair', () => {
    const seen = new Set(PAIRS.flatMap((p) => [p.first, p.second]));
    assert.deepEqual(REJECT_CODES.filter((c) => c !== 'ID_CONFLICT' && !seen.has(c)), []);
  });

  it('GIVEN an agent whose balance would decide the answer WHEN its proposal is unauthorized THEN the answer does not reveal the balance', () => {
    // A probes B's credits by proposing to move them: whatever the amount, the answer is the same.
    const small = run({ input: () => ({ ...tx('B', 'A', 1), agent: 'A' }) });
    const huge = run({ input: () => ({ ...tx('B', 'A', 10_000), agent: 'A' }) });
    assertRejected(small, 'NOT_AUTHORIZED');
    assertRejected(huge, 'NOT_AUTHORIZED');
  });
});
