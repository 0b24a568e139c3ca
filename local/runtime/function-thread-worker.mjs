// The functions' thread (function-thread.ts): TypeScript through tsx, then the host.
import { register as registerEsm } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';

registerEsm();
registerCjs();
await import('./function-thread-host.ts');
