/**
 * Guest-side bootstrap, evaluated in every fresh QuickJS context before the artifact's code.
 *
 * Why a guest-side prelude instead of host objects: everything that crosses the boundary is a
 * string or a number. The raw host callbacks are passed as arguments to this function and only
 * ever live in its closure, so guest code can neither reach nor replace them; the public API is
 * installed as non-writable, non-configurable, frozen globals. JSON.parse / JSON.stringify and
 * the other built-ins used here are captured before artifact code runs, so an artifact that
 * monkey-patches built-ins only breaks itself (and each call gets a fresh context anyway).
 *
 * Determinism decisions (documented in executor.ts):
 *   - `Date.now()` and `new Date()` return the call tree's logical clock `now`; `new Date(x)`
 *     works normally. No timers exist (QuickJS without quickjs-libc has none).
 *   - `Math.random()` is a mulberry32 generator seeded per call, so a re-run with the same
 *     request and seed behaves identically.
 *
 * The function returns [run, serialize, describe] for the host:
 *   run(method, argsJson, ctxJson)  calls `methods[method](args, ctx)` (see executor.ts);
 *   serialize(value)                 JSON text of a result (undefined → "null");
 *   describe(error)                  JSON [name, message] of a thrown value, never throws.
 */
export const PRELUDE_SOURCE = String.raw`(function (hInvoke, hPay, hBalance, hWorld, now, seed, maxMessage) {
  'use strict';
  const g = globalThis;
  const parse = JSON.parse, stringify = JSON.stringify;
  const freeze = Object.freeze, isFrozen = Object.isFrozen, keys = Object.keys, defineProperty = Object.defineProperty;
  const isSafeInteger = Number.isSafeInteger, imul = Math.imul, RealDate = Date, StringCtor = String;
  const TypeErrorCtor = TypeError;

  function deepFreeze(v) {
    if (v !== null && typeof v === 'object' && !isFrozen(v)) {
      freeze(v);
      const ks = keys(v);
      for (let i = 0; i < ks.length; i++) deepFreeze(v[ks[i]]);
    }
    return v;
  }

  let worldCache;
  const api = {
    invoke: function invoke(artifactId, method, args) {
      if (typeof artifactId !== 'string' || typeof method !== 'string') {
        throw new TypeErrorCtor('invoke(artifactId, method, args): artifactId and method must be strings');
      }
      const json = stringify(args === undefined ? {} : args);
      return parse(hInvoke(artifactId, method, json === undefined ? 'null' : json));
    },
    pay: function pay(to, amount, resource) {
      if (typeof to !== 'string') throw new TypeErrorCtor('pay(to, amount, resource?): to must be a string');
      // The host parses the decimal text into a bigint and rejects anything that is not a
      // positive integer; unsafe numbers are sent as an invalid marker rather than rounded.
      let text;
      if (typeof amount === 'string') text = amount;
      else if (typeof amount === 'bigint') text = amount.toString();
      else if (typeof amount === 'number' && isSafeInteger(amount)) text = StringCtor(amount);
      else text = 'not-an-integer:' + typeof amount;
      hPay(to, text, resource === undefined ? 'credits' : StringCtor(resource));
      return true;
    },
    balance: function balance(resource) {
      return hBalance(resource === undefined ? 'credits' : StringCtor(resource));
    },
    world: function world() {
      if (worldCache === undefined) worldCache = deepFreeze(parse(hWorld()));
      return worldCache;
    },
  };
  const names = keys(api);
  for (let i = 0; i < names.length; i++) {
    defineProperty(g, names[i], { value: freeze(api[names[i]]), writable: false, enumerable: false, configurable: false });
  }

  const FixedDate = function Date() {
    if (new.target === undefined) return new RealDate(now).toString();
    return arguments.length === 0 ? new RealDate(now) : new RealDate(...arguments);
  };
  FixedDate.prototype = RealDate.prototype;
  FixedDate.now = function now_() { return now; };
  FixedDate.parse = RealDate.parse;
  FixedDate.UTC = RealDate.UTC;
  defineProperty(RealDate.prototype, 'constructor', { value: FixedDate, writable: true, enumerable: false, configurable: true });
  defineProperty(g, 'Date', { value: FixedDate, writable: true, enumerable: false, configurable: true });

  let state = seed >>> 0;
  Math.random = function random() {
    state = (state + 0x6D2B79F5) >>> 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  const run = function run(method, argsJson, ctxJson) {
    const m = typeof methods === 'undefined' ? undefined : methods;
    if (m === null || (typeof m !== 'object' && typeof m !== 'function')) {
      throw new TypeErrorCtor('artifact code must define "var methods = { name(args, ctx) { ... } }"');
    }
    const f = m[method];
    if (typeof f !== 'function') throw new TypeErrorCtor('methods.' + method + ' is not a function');
    return f.call(m, parse(argsJson), deepFreeze(parse(ctxJson)));
  };
  const serialize = function serialize(value) {
    const s = stringify(value);
    return s === undefined ? 'null' : s;
  };
  const describe = function describe(e) {
    try {
      if (e !== null && typeof e === 'object') {
        const n = e.name, m = e.message;
        return stringify([typeof n === 'string' ? n : 'Error', StringCtor(m === undefined ? '' : m).slice(0, maxMessage)]);
      }
      return stringify(['Thrown', StringCtor(e).slice(0, maxMessage)]);
    } catch (x) {
      return '["Error","(the thrown value could not be described)"]';
    }
  };
  return [run, serialize, describe];
})`;
