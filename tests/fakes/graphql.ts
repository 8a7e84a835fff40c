// A deliberately small GraphQL document reader for the Linear fake.
//
// WHY not the `graphql` package: it is not a dependency of this project (the Linear SDK bundles its
// own printer only). This reader understands what the Linear SDK and hand-written raw requests
// send: operations, aliases, arguments (literals and $variables), fragments and inline fragments,
// directives (skipped). It lets the fake (a) find the root fields and their resolved arguments and
// (b) answer with exactly the selected fields, as a real GraphQL server does; unmodelled selected
// fields come back as null so a test notices instead of reading invented data.

export interface FieldSel {
  kind: 'field';
  key: string; // alias ?? name
  name: string;
  args: Record<string, unknown>;
  sub?: Sel[];
}
export type Sel = FieldSel | { kind: 'spread'; name: string } | { kind: 'inline'; sub: Sel[] };

export interface ParsedOperation {
  type: 'query' | 'mutation' | 'subscription';
  name?: string;
  root: FieldSel[];
  fragments: Map<string, Sel[]>;
}

export class GraphQLSyntaxError extends Error {}

const TOKEN = /\.\.\.|"""[\s\S]*?"""|"(?:\\.|[^"\\])*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[A-Za-z_]\w*|[{}():@$!=[\]]/g;

/** Parses the first operation of `query`, resolving `$variables` from `variables`. */
export function parseOperation(query: string, variables: Record<string, unknown> = {}): ParsedOperation {
  const src = query.replace(/"""[\s\S]*?"""|"(?:\\.|[^"\\])*"|#[^\n]*/g, (m) => (m.startsWith('#') ? '' : m));
  const t = src.match(TOKEN) ?? [];
  let i = 0;
  const peek = (): string | undefined => t[i];
  const next = (): string => {
    const tok = t[i++];
    if (tok === undefined) throw new GraphQLSyntaxError('Syntax Error: Unexpected <EOF>.');
    return tok;
  };
  const expect = (tok: string): void => {
    const got = next();
    if (got !== tok) throw new GraphQLSyntaxError(`Syntax Error: Expected "${tok}", found "${got}".`);
  };

  const value = (): unknown => {
    const tok = next();
    if (tok === '$') return variables[next()];
    if (tok === '[') {
      const out: unknown[] = [];
      while (peek() !== ']') out.push(value());
      next();
      return out;
    }
    if (tok === '{') {
      const out: Record<string, unknown> = {};
      while (peek() !== '}') {
        const k = next();
        expect(':');
        out[k] = value();
      }
      next();
      return out;
    }
    if (tok.startsWith('"')) return tok.startsWith('"""') ? tok.slice(3, -3) : (JSON.parse(tok) as string);
    if (/^-?\d/.test(tok)) return Number(tok);
    if (tok === 'true' || tok === 'false') return tok === 'true';
    if (tok === 'null') return null;
    return tok; // enum value
  };
  const args = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (peek() !== '(') return out;
    next();
    while (peek() !== ')') {
      const k = next();
      expect(':');
      out[k] = value();
    }
    next();
    return out;
  };
  const directives = (): void => {
    while (peek() === '@') {
      next();
      next();
      args();
    }
  };
  const selectionSet = (): Sel[] => {
    expect('{');
    const out: Sel[] = [];
    while (peek() !== '}') {
      if (peek() === '...') {
        next();
        if (peek() === 'on' || peek() === '{' || peek() === '@') {
          if (peek() === 'on') {
            next();
            next();
          }
          directives();
          out.push({ kind: 'inline', sub: selectionSet() });
        } else {
          out.push({ kind: 'spread', name: next() });
          directives();
        }
        continue;
      }
      let name = next();
      let key = name;
      if (peek() === ':') {
        next();
        name = next();
      }
      const a = args();
      directives();
      out.push({ kind: 'field', key, name, args: a, ...(peek() === '{' ? { sub: selectionSet() } : {}) });
    }
    next();
    return out;
  };
  const skipVariableDefinitions = (): void => {
    if (peek() !== '(') return;
    let depth = 0;
    do {
      const tok = next();
      if (tok === '(') depth++;
      if (tok === ')') depth--;
    } while (depth > 0);
  };

  const fragments = new Map<string, Sel[]>();
  let op: ParsedOperation | undefined;
  while (i < t.length) {
    const tok = peek();
    if (tok === 'fragment') {
      next();
      const name = next();
      expect('on');
      next();
      directives();
      fragments.set(name, selectionSet());
    } else if (tok === '{') {
      const root = selectionSet();
      op ??= { type: 'query', root: root.filter((s): s is FieldSel => s.kind === 'field'), fragments };
    } else if (tok === 'query' || tok === 'mutation' || tok === 'subscription') {
      next();
      const name = peek() !== '(' && peek() !== '{' && peek() !== '@' ? next() : undefined;
      skipVariableDefinitions();
      directives();
      const root = selectionSet();
      op ??= { type: tok, name, root: root.filter((s): s is FieldSel => s.kind === 'field'), fragments };
    } else {
      throw new GraphQLSyntaxError(`Syntax Error: Unexpected Name "${tok}".`);
    }
  }
  if (!op) throw new GraphQLSyntaxError('Syntax Error: no operation in document.');
  return op;
}

/** Keeps only the selected fields of `value` (recursively), like a GraphQL server's response. */
export function project(value: unknown, sels: Sel[] | undefined, fragments: Map<string, Sel[]>): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => project(v, sels, fragments));
  if (!sels || typeof value !== 'object') return value;
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const walk = (list: Sel[]): void => {
    for (const s of list) {
      if (s.kind === 'spread') walk(fragments.get(s.name) ?? []);
      else if (s.kind === 'inline') walk(s.sub);
      else out[s.key] = project(src[s.name], s.sub, fragments);
    }
  };
  walk(sels);
  return out;
}
