#!/usr/bin/env node
import { runCli } from './cli/index.js';

// The long-running commands resolve only after their graceful shutdown; exiting explicitly then
// keeps a stray handle (a client's reconnect timer) from holding the process past its grace period.
const code = await runCli(process.argv.slice(2));
process.exit(code);
