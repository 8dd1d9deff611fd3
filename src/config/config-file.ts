// Loads and saves corral.yaml.
import { CorralError } from '../util/errors.ts';
import type { HomePaths } from './home.ts';
import { CorralConfig, ProviderConfig, splitModel } from './schema.ts';
import { parseYaml, readRegularFile, writeYaml } from './yaml-file.ts';

const HEADER =
  '# corral configuration. Providers are model endpoints; secrets live in the store, not here.\n';

export function loadConfig(home: HomePaths): CorralConfig {
  const text = readRegularFile(home.configFile);
  if (text === undefined) {
    throw new CorralError('not_initialised', `no corral home at ${home.root}`, 'run: corral init');
  }
  return parseYaml(home.configFile, text, CorralConfig);
}

export function saveConfig(home: HomePaths, config: CorralConfig): void {
  writeYaml(home.configFile, CorralConfig.parse(config), HEADER);
}

export function resolveProvider(
  config: CorralConfig,
  modelSpec: string,
): ProviderConfig & { name: string; model: string } {
  const { provider, model } = splitModel(modelSpec);
  const found = config.providers[provider];
  if (found === undefined) {
    const known = Object.keys(config.providers).join(', ') || 'none';
    throw new CorralError(
      'provider_unknown',
      `unknown provider '${provider}' in model '${modelSpec}' (known: ${known})`,
      `add it: corral provider add ${provider} --kind anthropic|openai --base-url URL --key-secret NAME`,
    );
  }
  return { ...ProviderConfig.parse(found), name: provider, model };
}
