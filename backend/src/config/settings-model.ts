import { z } from 'zod';
import { int, setting, url } from './setting.js';

/** The model provider's and the agent turn's settings (part of `settings`, in this order). */
export const modelSettings = {
  MODEL_PROVIDER: setting(
    z.enum(['anthropic', 'openai', 'azure', 'openai-compatible']).optional(),
    '— (first provider whose key is set)',
    'Model provider used for agent turns.',
  ),
  MODEL_NAME: setting(
    z.string().min(1).optional(),
    'claude-sonnet-4-5 (anthropic), gpt-4.1 (openai)',
    'Model id (Azure: the deployment name).',
  ),
  ANTHROPIC_API_KEY: setting(z.string().min(1).optional(), '—', 'Anthropic API key.', true),
  ANTHROPIC_BASE_URL: setting(url.optional(), 'https://api.anthropic.com/v1', 'Anthropic API base URL.'),
  OPENAI_API_KEY: setting(z.string().min(1).optional(), '—', 'OpenAI API key.', true),
  OPENAI_BASE_URL: setting(url.optional(), 'https://api.openai.com/v1', 'OpenAI API base URL.'),
  AZURE_OPENAI_API_KEY: setting(z.string().min(1).optional(), '—', 'Azure OpenAI API key.', true),
  AZURE_OPENAI_RESOURCE: setting(z.string().min(1).optional(), '—', 'Azure OpenAI resource name.'),
  AZURE_OPENAI_BASE_URL: setting(
    url.optional(),
    '—',
    'Azure OpenAI base URL (instead of the resource name).',
  ),
  AZURE_OPENAI_API_VERSION: setting(
    z.string().min(1).optional(),
    'provider default',
    'Azure OpenAI API version.',
  ),
  OPENAI_COMPATIBLE_BASE_URL: setting(
    url.optional(),
    '—',
    'Base URL of an OpenAI-compatible server (Ollama, vLLM), e.g. http://ollama:11434/v1.',
  ),
  OPENAI_COMPATIBLE_API_KEY: setting(
    z.string().min(1).optional(),
    '—',
    'API key of the OpenAI-compatible server, if it needs one.',
    true,
  ),
  AGENT_MAX_STEPS: setting(int(1, 100).default(12), '12', 'Model steps (tool rounds) per agent turn.'),
  AGENT_MAX_TOKENS: setting(
    int(100, 10_000_000).default(200_000),
    '200000',
    'Token budget (input + output) of one agent turn.',
  ),
  AGENT_HISTORY_MESSAGES: setting(
    int(1, 10_000).default(200),
    '200',
    'Earlier messages of the session an agent turn sends to the model at most (the newest ones).',
  ),
  AGENT_HISTORY_CHARS: setting(
    int(1_000, 10_000_000).default(200_000),
    '200000',
    'Size budget (characters) of the earlier messages a turn sends; the oldest are left out first.',
  ),
  AGENT_TIMEOUT_SECONDS: setting(int(1, 86_400).default(180), '180', 'Wall-clock limit of one agent turn.'),
  MODEL_MAX_RETRIES: setting(
    int(0, 10).default(3),
    '3',
    'Retries of a model call on rate limits and 5xx (exponential backoff with jitter).',
  ),
};
