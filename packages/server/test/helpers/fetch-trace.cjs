// Preloaded (NODE_OPTIONS=--require) into a child process such as auth0-deploy-cli: appends one line
// per HTTP request made with fetch, `STATUS METHOD PATH`, to the file named by LATCHKEY_FETCH_TRACE,
// so a test can count what a tool read and wrote.
const { appendFileSync } = require('node:fs');

const file = process.env.LATCHKEY_FETCH_TRACE;
const original = globalThis.fetch;
if (file && original) {
  globalThis.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET');
    const response = await original(input, init);
    appendFileSync(file, `${response.status} ${method.toUpperCase()} ${new URL(url).pathname}\n`);
    return response;
  };
}
