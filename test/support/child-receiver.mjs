// What the receivers that run as child processes (the benchmark's, the reliability run's chaos
// receiver) share: reporting receipts to the parent over IPC, and listening for it.

/**
 * Returns `report(item)`: items are sent to the parent in batches every 50 ms, so IPC costs
 * one message per batch rather than one per request.
 */
export function reportToParent() {
  let pending = [];
  setInterval(() => {
    if (pending.length > 0 && process.send) process.send(pending);
    pending = [];
  }, 50).unref();
  return (item) => pending.push(item);
}

/**
 * Listens on a random loopback port with long keep-alive, tells the parent `{port}`, and exits
 * when the parent goes away.
 */
export function listenForParent(server) {
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ port: server.address().port });
  });
  process.on('disconnect', () => process.exit(0));
}
