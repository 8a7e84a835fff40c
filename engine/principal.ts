/**
 * Binding a proposal to the principal that sent it.
 *
 * The law trusts a proposal's `agent` field: it is who the writer believes is speaking. The
 * engine, not the proposal, knows who that is — it asked agent X's proposer — so before an
 * attempt reaches the writer its `agent` is set to X, exactly as an API sets the caller from the
 * authenticated session and ignores a `user` field in the body. An agent that writes
 * `"agent": "system"` and asks for a mint is then judged as itself asking for a mint
 * (NOT_AUTHORIZED) instead of being obeyed.
 *
 * Text that does not parse as a JSON object is passed through untouched so the writer records it
 * as MALFORMED; so is an object that already names its principal. Only the `agent` field is ever
 * changed, and the change is reported (`claimed`) so the loop can count impersonation attempts.
 */
export interface Bound {
  input: unknown;
  /** The agent the attempt claimed to be, when it differed from its principal (or was missing). */
  claimed?: string | null;
}

export function bindPrincipal(raw: unknown, principal: string): Bound {
  let obj: unknown = raw;
  if (typeof raw === 'string') {
    try {
      obj = JSON.parse(raw);
    } catch {
      return { input: raw };
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { input: raw };
  const o = obj as Record<string, unknown>;
  if (o.agent === principal) return { input: raw };
  const claimed = typeof o.agent === 'string' ? o.agent : null;
  // Spread keeps every other field as produced (an own "__proto__" key from JSON.parse included:
  // object spread copies it as a plain own property, so the law still sees and refuses it).
  return { input: { ...o, agent: principal }, claimed };
}
