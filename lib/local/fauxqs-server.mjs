// fauxqs is ESM-only while the project compiles to CommonJS (Jest, CDK), so the local stack
// runs it in this small child process. Prints {"address": ...} once listening; exits when the
// parent closes stdin or sends SIGTERM.
import { startFauxqs } from 'fauxqs';

const server = await startFauxqs({ port: Number(process.env.FAUXQS_PORT ?? 0), logger: false });
process.stdout.write(`${JSON.stringify({ address: server.address })}\n`);
const stop = () => server.stop().finally(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
