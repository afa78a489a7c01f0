// `secret add NAME --preset PROVIDER`: each provider's hosts, every place its
// official clients put the key, and the variables they read it from. Data
// only; flags given beside a preset replace the matching part (secrets.ts).
//
// How each row was checked (the clients' own source, and the tests named in
// the README's table of tested clients):
// - anthropic: the Python SDK sends ANTHROPIC_API_KEY as X-Api-Key and
//   ANTHROPIC_AUTH_TOKEN as `Authorization: Bearer`; @anthropic-ai/sdk 1.x
//   sends its apiKey as `Authorization: Bearer`; Claude Code sends x-api-key,
//   and with an apiKeyHelper both headers.
// - openai: every official SDK and Codex send `Authorization: Bearer`.
// - github: gh sends `Authorization: token …` (kept as written: a client-
//   formatted header keeps its text); git over HTTPS sends HTTP Basic, and
//   `gh auth git-credential` answers with the user x-access-token whenever the
//   token comes from GH_TOKEN or GITHUB_TOKEN.
// - gemini: the google-genai SDKs and Gemini CLI send x-goog-api-key; the
//   REST examples and older SDKs use ?key=.
// - huggingface, mistral, groq, openrouter: `Authorization: Bearer`.
//
// No preset sets a base-URL variable: every client above honours HTTPS_PROXY
// (Node ones through run's preload on Node 20, see docs/gateway.md). The
// variable each reads is listed for `--base-url-env`, for a client that does not.
import type { Placement } from './config.js';
import { usageError } from './errors.js';
import type { SecretInput } from './secrets.js';

export interface Preset {
  name: string;
  /** Who makes the API, as the README's table says it. */
  provider: string;
  hosts: string[];
  placements: Placement[];
  env: string[];
  /** The variable its clients take a base URL from, for `--base-url-env` (not set by the preset). */
  baseUrlVariable?: string;
  /** The clients whose placements are covered. */
  clients: string;
}

const BEARER: Placement = { header: 'authorization', format: 'Bearer {}' };

export const PRESETS: readonly Preset[] = [
  {
    name: 'anthropic',
    provider: 'Anthropic',
    hosts: ['api.anthropic.com'],
    placements: [{ header: 'x-api-key' }, BEARER],
    env: ['ANTHROPIC_API_KEY'],
    baseUrlVariable: 'ANTHROPIC_BASE_URL',
    clients: 'Claude Code (ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, apiKeyHelper), @anthropic-ai/sdk, anthropic (Python)',
  },
  {
    name: 'openai',
    provider: 'OpenAI',
    hosts: ['api.openai.com'],
    placements: [BEARER],
    env: ['OPENAI_API_KEY'],
    baseUrlVariable: 'OPENAI_BASE_URL',
    clients: 'openai (Node, Python), Codex CLI',
  },
  {
    name: 'github',
    provider: 'GitHub',
    hosts: ['github.com', 'api.github.com', 'uploads.github.com', 'gist.github.com'],
    placements: [BEARER, { header: 'authorization', format: 'basic:x-access-token' }],
    env: ['GH_TOKEN', 'GITHUB_TOKEN'],
    clients: 'gh, git over HTTPS (token in the URL as x-access-token, or a credential helper), Octokit',
  },
  {
    name: 'gemini',
    provider: 'Google Gemini API',
    hosts: ['generativelanguage.googleapis.com'],
    placements: [{ header: 'x-goog-api-key' }, { query: 'key' }],
    env: ['GEMINI_API_KEY'],
    baseUrlVariable: 'GOOGLE_GEMINI_BASE_URL',
    clients: 'Gemini CLI, google-genai (Node, Python), REST with ?key=',
  },
  {
    name: 'huggingface',
    provider: 'Hugging Face',
    hosts: ['huggingface.co', 'router.huggingface.co', 'api-inference.huggingface.co'],
    placements: [BEARER],
    env: ['HF_TOKEN'],
    baseUrlVariable: 'HF_ENDPOINT',
    clients: 'huggingface_hub and the hf CLI, huggingface.js',
  },
  { name: 'mistral', provider: 'Mistral AI', hosts: ['api.mistral.ai'], placements: [BEARER], env: ['MISTRAL_API_KEY'], clients: 'mistralai (Node, Python)' },
  { name: 'groq', provider: 'Groq', hosts: ['api.groq.com'], placements: [BEARER], env: ['GROQ_API_KEY'], clients: 'groq-sdk, groq (Python)' },
  { name: 'openrouter', provider: 'OpenRouter', hosts: ['openrouter.ai'], placements: [BEARER], env: ['OPENROUTER_API_KEY'], clients: 'OpenAI-compatible clients' },
];

const PRESET_NAMES = PRESETS.map((preset) => preset.name);

function findPreset(name: string): Preset | undefined {
  return PRESETS.find((preset) => preset.name === name.toLowerCase());
}

/**
 * A preset's binding as `secret add` input, with the flags given beside it
 * replacing the matching part: any --host replaces the hosts, any --header or
 * --query the placements, any --env the variables.
 */
export function applyPreset(name: string, flags: SecretInput): SecretInput {
  const preset = findPreset(name);
  if (!preset) {
    throw usageError('UNKNOWN_PRESET', `no preset named ${JSON.stringify(name)}`, { hint: `presets: ${PRESET_NAMES.join(', ')}` });
  }
  const placed = (flags.headers?.length ?? 0) > 0 || (flags.queries?.length ?? 0) > 0;
  const input: SecretInput = {
    ...flags,
    preset: preset.name,
    hosts: flags.hosts.length > 0 ? flags.hosts : [...preset.hosts],
    headers: placed ? (flags.headers ?? []) : preset.placements.flatMap((placement) => ('header' in placement ? [placement.format ? `${placement.header}:${placement.format}` : placement.header] : [])),
    queries: placed ? (flags.queries ?? []) : preset.placements.flatMap((placement) => ('query' in placement ? [placement.query] : [])),
    env: (flags.env?.length ?? 0) > 0 ? flags.env! : [...preset.env],
  };
  return input;
}
