/** tiledesk-server's webhook requests, imitated byte for byte (local/tiledesk-notifier.ts, also behind `npm run tiledesk-notify`). */
export * from '../../local/tiledesk-notifier';
