// End-to-end checks of an installed release through its public entry (Ingress or Gateway):
// a script in every language the platform offers, and an agent turn answered by the fake model
// server.   node scripts/kind/e2e.mjs <base-url> <admin-token>
// Plain Node (no dependencies), so the kind workflow runs it as is. Exits 1 on any failure.
const [base, token] = process.argv.slice(2);
if (!base || !token) {
  console.error('usage: node scripts/kind/e2e.mjs <base-url> <admin-token>');
  process.exit(2);
}
const api = `${base.replace(/\/$/, '')}/api/v1`;
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const scripts = {
  javascript: 'console.log(6 * 7); return 6 * 7;',
  typescript: 'const answer: number = 6 * 7;\nconsole.log(answer);\nreturn answer;',
  shell: 'echo $((6 * 7))',
  python: 'print(6 * 7)',
};
let failures = 0;
const check = (name, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  if (!ok) failures += 1;
};

async function call(method, path, body) {
  const response = await fetch(`${api}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function settle(id, seconds) {
  let state = { status: 'queued' };
  for (let i = 0; i < seconds * 4 && ['queued', 'running'].includes(state.status); i++) {
    await new Promise((r) => setTimeout(r, 250));
    state = (await call('GET', `/executions/${id}`)).body;
  }
  return state;
}

const me = await call('GET', '/me');
const languages = me.body?.platform?.languages ?? [];
check(
  'the platform offers JavaScript and TypeScript',
  languages.includes('javascript') && languages.includes('typescript'),
  JSON.stringify(languages),
);
for (const language of languages) {
  const created = await call('POST', '/executions', { language, code: scripts[language] ?? 'unknown' });
  check(`${language} accepted`, created.status === 202, `${created.status}`);
  if (created.status !== 202) continue;
  const final = await settle(created.body.id, 60);
  // shell and Python print: their output is in the events, a stream that ends after the last one
  const events = await (
    await fetch(`${api}/executions/${created.body.id}/events`, {
      headers,
      signal: AbortSignal.timeout(15_000),
    })
  ).text();
  const text = JSON.stringify(final);
  check(
    `${language} script ran and printed 42`,
    final.status === 'succeeded' && /\b42\b/.test(`${JSON.stringify(final.result)}${events}`),
    `${text.slice(0, 200)} ${events.slice(0, 200)}`,
  );
}

const session = await call('POST', '/sessions', { title: 'kind e2e' });
check('session created', session.status === 201, `${session.status}`);
const sent = await call('POST', `/sessions/${session.body?.id}/messages`, { text: 'hello from kind' });
check(
  'agent turn accepted',
  sent.status === 202,
  `${sent.status} ${JSON.stringify(sent.body).slice(0, 200)}`,
);
if (sent.status === 202) {
  const final = await settle(sent.body.execution.id, 120);
  check('agent turn succeeded', final.status === 'succeeded', JSON.stringify(final).slice(0, 300));
  const messages = await call('GET', `/sessions/${session.body.id}/messages`);
  const reply = JSON.stringify(messages.body);
  check(
    'the model answered through the worker',
    reply.includes('hello from kind') && reply.includes('assistant'),
    reply.slice(0, 300),
  );
}
console.log(failures === 0 ? 'e2e: all checks passed' : `e2e: ${failures} checks failed`);
process.exit(failures === 0 ? 0 : 1);
