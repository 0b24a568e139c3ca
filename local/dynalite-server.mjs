// dynalite (the DynamoDB emulator) in its own process, so its CPU does not compete with the
// handlers'. Options come as JSON in DYNALITE_OPTIONS (e.g. a `path` to keep data on disk).
// Prints {"address": ...} once listening; exits when the parent closes stdin or sends SIGTERM.
import dynalite from 'dynalite';

const server = dynalite(JSON.parse(process.env.DYNALITE_OPTIONS ?? '{}'));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ address: `http://127.0.0.1:${server.address().port}` })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
// Ctrl-C and a closed terminal reach the whole process group: the parent stops the stack in
// order (event sources first) and then closes stdin, so these signals are left to it.
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
