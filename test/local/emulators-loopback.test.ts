// The emulators check no credentials, so they must not be reachable from the network: each
// listens on loopback only (fauxqs listens on every interface unless held to 127.0.0.1).
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { startEmulatorProcess } from '../../local/emulator-process';

/** This machine's own addresses other than loopback (a LAN, a container's interface). */
const externalAddresses = Object.values(networkInterfaces())
  .flat()
  .filter((entry) => entry !== undefined && !entry.internal && entry.family === 'IPv4')
  .map((entry) => entry!.address);

/** The local addresses of IPv4 sockets listening on `port` (Linux's /proc/net/tcp; state 0A = LISTEN). */
function listeningAddresses(port: number): string[] {
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[3] === '0A' && Number.parseInt(fields[1]?.split(':')[1] ?? '', 16) === port)
    .map((fields) => {
      const hex = fields[1]!.split(':')[0]!;
      return [3, 2, 1, 0].map((index) => Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16)).join('.');
    });
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test.each([
  ['fauxqs', 'fauxqs-server.mjs', { FAUXQS_PORT: '0' }],
  ['dynalite', 'dynalite-server.mjs', {}],
])('%s listens on loopback only', async (name, script, env) => {
  const emulator = await startEmulatorProcess(name, script, env);
  try {
    const port = Number(new URL(emulator.address).port);
    expect(await connects('127.0.0.1', port)).toBe(true);
    for (const address of externalAddresses) expect(await connects(address, port)).toBe(false);
    // On Linux the kernel's table says it whatever the interfaces: bound to 127.0.0.1, not 0.0.0.0.
    if (existsSync('/proc/net/tcp')) expect(listeningAddresses(port)).toEqual(['127.0.0.1']);
  } finally {
    await emulator.stop();
  }
});
