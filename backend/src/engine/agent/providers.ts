import { createAnthropic } from '@ai-sdk/anthropic';
import { createAzure } from '@ai-sdk/azure';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';
import type { Config } from '../../config/index.js';

/**
 * Chooses the model provider from the configuration and builds its client. Every provider gets
 * the same `fetch` (the retrying one), so retries, backoff and test fakes work the same way for
 * all of them. OpenAI and Azure go through the chat-completions API, the protocol every
 * OpenAI-compatible server (Ollama, vLLM) also speaks.
 */

export type ProviderName = 'anthropic' | 'openai' | 'azure' | 'openai-compatible';

export interface ResolvedModel {
  provider: ProviderName;
  modelName: string;
  model: LanguageModel;
}

export const defaultModelNames: Record<ProviderName, string> = {
  anthropic: 'claude-sonnet-4-5',
  openai: 'gpt-4.1',
  azure: 'gpt-4.1',
  'openai-compatible': 'gpt-4.1',
};

export const providerNotConfiguredMessage =
  'no model provider is configured: set ANTHROPIC_API_KEY, or OPENAI_API_KEY, or AZURE_OPENAI_API_KEY and AZURE_OPENAI_RESOURCE (or AZURE_OPENAI_BASE_URL), or OPENAI_COMPATIBLE_BASE_URL in the environment the platform starts with, then restart it';

/** What a provider still lacks, or null when it can be used. */
function missingFor(provider: ProviderName, model: Config['model']): string | null {
  switch (provider) {
    case 'anthropic':
      return model.anthropic.apiKey ? null : 'ANTHROPIC_API_KEY';
    case 'openai':
      return model.openai.apiKey ? null : 'OPENAI_API_KEY';
    case 'azure':
      if (!model.azure.apiKey) return 'AZURE_OPENAI_API_KEY';
      return model.azure.resource || model.azure.baseUrl
        ? null
        : 'AZURE_OPENAI_RESOURCE (or AZURE_OPENAI_BASE_URL)';
    case 'openai-compatible':
      return model.openaiCompatible.baseUrl ? null : 'OPENAI_COMPATIBLE_BASE_URL';
  }
}

const providerOrder: ProviderName[] = ['anthropic', 'openai', 'azure', 'openai-compatible'];

/** The provider to use: MODEL_PROVIDER when set, else the first one whose settings are present. */
export function chooseProvider(model: Config['model']): { provider: ProviderName } | { error: string } {
  if (model.provider) {
    const missing = missingFor(model.provider, model);
    return missing
      ? { error: `MODEL_PROVIDER is '${model.provider}' but ${missing} is not set` }
      : { provider: model.provider };
  }
  const provider = providerOrder.find((p) => missingFor(p, model) === null);
  return provider ? { provider } : { error: providerNotConfiguredMessage };
}

export function resolveModel(
  model: Config['model'],
  fetch: typeof globalThis.fetch,
): ResolvedModel | { error: string } {
  const chosen = chooseProvider(model);
  if ('error' in chosen) return chosen;
  const provider = chosen.provider;
  const modelName = model.name ?? defaultModelNames[provider];
  switch (provider) {
    case 'anthropic': {
      const client = createAnthropic({
        apiKey: model.anthropic.apiKey,
        baseURL: model.anthropic.baseUrl,
        fetch,
      });
      return { provider, modelName, model: client(modelName) };
    }
    case 'openai': {
      const client = createOpenAI({ apiKey: model.openai.apiKey, baseURL: model.openai.baseUrl, fetch });
      return { provider, modelName, model: client.chat(modelName) };
    }
    case 'azure': {
      const client = createAzure({
        apiKey: model.azure.apiKey,
        resourceName: model.azure.baseUrl ? undefined : model.azure.resource,
        baseURL: model.azure.baseUrl,
        apiVersion: model.azure.apiVersion,
        fetch,
      });
      return { provider, modelName, model: client.chat(modelName) };
    }
    case 'openai-compatible': {
      const client = createOpenAICompatible({
        name: 'openai-compatible',
        baseURL: model.openaiCompatible.baseUrl ?? '',
        apiKey: model.openaiCompatible.apiKey,
        includeUsage: true,
        fetch,
      });
      return { provider, modelName, model: client.chatModel(modelName) };
    }
  }
}
