/**
 * The only guest-side code the sandbox adds to a fresh context (everything else — the API
 * functions, JSON marshalling, Math.random — is installed from the host).
 *
 * Why so little: every fresh context compiles this source, and QuickJS compiles at roughly
 * 0.1 ms per KB here; an earlier 4.5 KB prelude cost more CPU than creating the runtime itself.
 *
 * It does two things that need guest code:
 *   - makes `Date.now()` and `new Date()` return the call tree's logical clock `now`
 *     (`new Date(x)` works normally), so a call is reproducible from its request;
 *   - returns [run, describe]: `run(name, args, ctx)` calls `methods[name](args, ctx)` with the
 *     artifact's `methods` binding (var, let or const); `describe(e)` turns any thrown value into
 *     JSON `[name, message]` without ever throwing (a getter on a thrown object runs guest code).
 */
export const PRELUDE_SOURCE = String.raw`(function (now, maxMessage) {
  'use strict';
  const RealDate = Date, S = String, stringify = JSON.stringify, TE = TypeError;
  const FixedDate = function Date() {
    if (new.target === undefined) return new RealDate(now).toString();
    return arguments.length === 0 ? new RealDate(now) : new RealDate(...arguments);
  };
  FixedDate.prototype = RealDate.prototype;
  FixedDate.now = () => now;
  FixedDate.parse = RealDate.parse;
  FixedDate.UTC = RealDate.UTC;
  Object.defineProperty(RealDate.prototype, 'constructor', { value: FixedDate, writable: true, configurable: true });
  Object.defineProperty(globalThis, 'Date', { value: FixedDate, writable: true, configurable: true });
  return [function run(name, args, ctx) {
    const m = typeof methods === 'undefined' ? undefined : methods;
    if (m === null || (typeof m !== 'object' && typeof m !== 'function')) throw new TE('artifact code must define "var methods = { name(args, ctx) { ... } }"');
    const f = m[name];
    if (typeof f !== 'function') throw new TE('methods.' + name + ' is not a function');
    return f.call(m, args, ctx);
  }, function describe(e) {
    try {
      if (e !== null && typeof e === 'object') {
        const n = e.name, msg = e.message;
        return stringify([typeof n === 'string' ? n : 'Error', S(msg === undefined ? '' : msg).slice(0, maxMessage)]);
      }
      return stringify(['Thrown', S(e).slice(0, maxMessage)]);
    } catch (x) {
      return '["Error","(the thrown value could not be described)"]';
    }
  }];
})`;

/** mulberry32: the guest's Math.random, seeded per call and run on the host (no guest code). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
