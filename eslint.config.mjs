// n8n's own lint rules for community nodes, self-hosted profile.
//
// This is @n8n/node-cli@0.48.3's `configWithoutCloudSupport` (dist/configs/eslint.js) rebuilt from
// the same parts, installed directly: @n8n/node-cli itself would add ~426 MB / 278 packages to
// node_modules (it depends on @n8n/ai-node-sdk → LangChain, OpenAI/Anthropic SDKs, pdf.js, a
// canvas binary, Playwright), while its `n8n-node lint` only runs `eslint .` with this config.
// The parts add ~25 MB. When bumping, diff against node-cli's config.
//
// One part of node-cli's config is left out: eslint-plugin-import-x (flat/recommended) with
// eslint-import-resolver-typescript. Its resolver (unrs-resolver) has per-platform native
// bindings, and the registry this project installs from serves only the Linux ones, so the
// lockfile came out without the others and `npm ci` refused it. Its rules (no-unresolved,
// named, namespace, default, export) are what `tsc` already checks on every build.
//
// Scope: `npm run lint` lints nodes/, credentials/ and package.json only — the n8n package. The
// engine, db, validator and tests are not n8n code and are held to the TypeScript compiler.
//
// Rules turned off below: those marked "as in node-cli" are node-cli's own choices, copied. The
// others are broken ON PURPOSE by this self-hosted package (`"n8n": { "strict": false }`), each
// with its reason; nodes/README.md (## Lint) lists them, and the line-level exceptions (inline
// `eslint-disable-next-line … -- reason`) too.
import js from '@eslint/js';
import { n8nCommunityNodesPlugin } from '@n8n/eslint-plugin-community-nodes';
import { defineConfig, globalIgnores } from 'eslint/config';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';
import tseslint from 'typescript-eslint';

// n8n Cloud's profile (`recommended`) additionally forbids globals (process, timers) and Node
// built-in imports; the self-hosted profile leaves those two rules out, as node-cli does.
const communityNodes = n8nCommunityNodesPlugin.configs.recommendedWithoutN8nCloudSupport;

export default defineConfig(
  globalIgnores(['dist', 'dist-*']),
  // Ours (not in node-cli): a disable comment must still be needed: a stale one would hide the next real problem there.
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: ['nodes/**/*.ts', 'credentials/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended, communityNodes],
    rules: {
      // as in node-cli
      'prefer-spread': 'off',
      'no-console': 'error',
    },
  },
  { plugins: { 'n8n-nodes-base': n8nNodesBase } },
  {
    files: ['package.json'],
    extends: [communityNodes],
    rules: {
      ...n8nNodesBase.configs.community.rules,
      // The nodes wrap the engine, which needs pg and PGlite (the ledger), quickjs-emscripten
      // (sandboxed artifacts), @google/genai, @linear/sdk and discord.js (proposer and alerts).
      // They are ordinary dependencies of a self-hosted package; n8n installs them with it.
      '@n8n/community-nodes/no-runtime-dependencies': 'off',
    },
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { extraFileExtensions: ['.json'] },
    },
  },
  {
    files: ['credentials/**/*.ts'],
    rules: {
      ...n8nNodesBase.configs.credentials.rules,
      // as in node-cli
      'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
      'n8n-nodes-base/cred-class-field-type-options-password-missing': 'off',
    },
  },
  {
    files: ['nodes/**/*.ts'],
    rules: {
      ...n8nNodesBase.configs.nodes.rules,
      // as in node-cli
      'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
      'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
      'n8n-nodes-base/node-param-type-options-max-value-present': 'off',
    },
  },
  {
    files: ['nodes/GridLinearTrigger/GridLinearTrigger.node.ts'],
    rules: {
      // The Linear webhook is registered once by a person in Linear (Settings → API → Webhooks),
      // who copies its signing secret into the Grid Linear API credential; the trigger verifies
      // every delivery with that secret. Creating and deleting webhooks from n8n (webhookMethods)
      // would need a Linear key allowed to manage the workspace's webhooks, and would change
      // what the node does; it is not part of this package today.
      '@n8n/community-nodes/webhook-lifecycle-complete': 'off',
    },
  },
);
