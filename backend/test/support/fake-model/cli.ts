import { commandLineOptions } from '../command-line.js';
import { scenarios } from './scenarios.js';
import { startFakeModelServer } from './server.js';

/**
 * `tsx backend/test/support/fake-model/cli.ts --port 4010 --scenario echo-with-tool`
 * Serves the Anthropic Messages API at <url>/v1/messages and the OpenAI chat API at
 * <url>/v1/chat/completions until SIGTERM/SIGINT.
 */
const usage = `usage: fake-model --port <n> --scenario <name> [--host 127.0.0.1]\nscenarios:\n${Object.entries(
  scenarios,
)
  .map(([name, s]) => `  ${name.padEnd(18)} ${s.description}`)
  .join('\n')}`;

const values = commandLineOptions(
  {
    port: { type: 'string', default: '4010' },
    scenario: { type: 'string', default: 'echo-with-tool' },
    host: { type: 'string', default: '127.0.0.1' },
  },
  usage,
);
const scenario = scenarios[values.scenario ?? ''];
const port = Number(values.port);
if (!scenario || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(
    `${scenario ? `invalid port ${values.port}` : `unknown scenario ${values.scenario}`}\n${usage}`,
  );
  process.exit(2);
}
const server = await startFakeModelServer(scenario.script, { port, host: values.host ?? '127.0.0.1' });
console.log(`fake model server (${values.scenario}) listening on ${server.url}`);
const stop = () => {
  void server.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
