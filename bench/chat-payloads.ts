/**
 * Realistic `message.create` payloads for the cost shapes: a Tiledesk message document with the
 * request it belongs to, as tiledesk-server's webhooks send it (field names from its
 * `models/message.js` and `models/request.js`), with varied chat text and ids, so they compress
 * like real chat rather than like one repeated character. Seeded: every run sends the same ones.
 */
import { gzipSync } from 'node:zlib';
import { seededRandom } from '../test/support/seeded-random';

const WORDS = (
  'hello hi thanks thank you please order delivery invoice account password reset login problem issue help support ' +
  'when where why how can could would should the a an my your our this that it is are was were be have has had do does ' +
  'not no yes ok sure today tomorrow yesterday week price plan subscription upgrade cancel refund payment card bank ' +
  'transfer shipping tracking number address email phone call back agent human bot question answer still waiting ' +
  'minutes hours again error page app website mobile android iphone browser chrome update version working broken ' +
  'received sent package box damaged missing item size colour return exchange store open close time great perfect ' +
  'ciao grazie buongiorno ordine spedizione problema aiuto per favore quando dove come ancora non funziona'
).split(' ');
const NAMES = ['Giulia Rossi', 'Marco Bianchi', 'Anna Müller', 'John Smith', 'Sofia Esposito', 'Luca Romano', 'Emma Brown', 'Ahmed Khan', 'Chiara Ricci', 'Pedro Alves'];
const PAGES = ['/pricing', '/checkout', '/account/orders', '/help/shipping', '/', '/product/smart-speaker-x2', '/blog/how-to-reset-your-password'];
const DEPARTMENTS = ['Default Department', 'Sales', 'Support', 'Billing'];
const AGENTS = ['Chatbot', 'Francesca Agent', 'Paolo Agent'];


/** Payloads of about `targetBytes` of JSON each, and their gzip ratio. */
export class ChatPayloads {
  private readonly next: () => number;
  private n = 0;

  constructor(
    private readonly projectId: string,
    private readonly targetBytes = 3000,
    seed = 19,
  ) {
    this.next = seededRandom(seed);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  private hex(length: number): string {
    return Array.from({ length }, () => Math.floor(this.next() * 16).toString(16)).join('');
  }

  private sentence(words: number): string {
    const text = Array.from({ length: words }, () => this.pick(WORDS)).join(' ');
    return `${text.charAt(0).toUpperCase()}${text.slice(1)}${this.pick(['.', '?', '!', '...', ''])}`;
  }

  /** The next payload; `sentAt` lets the receiver time the delivery. */
  payload(sentAt: number): Record<string, unknown> {
    this.n += 1;
    const requester = this.pick(NAMES);
    const guestId = `6a${this.hex(22)}`;
    const requestId = `support-group-${this.projectId}-${this.hex(32)}`;
    const created = new Date(sentAt - Math.floor(this.next() * 3_600_000)).toISOString();
    const department = this.pick(DEPARTMENTS);
    const request = {
      _id: this.hex(24),
      request_id: requestId,
      id_project: this.projectId,
      status: this.pick([100, 200, 200, 200]),
      first_text: this.sentence(4 + Math.floor(this.next() * 12)),
      department: { _id: this.hex(24), name: department, routing: 'assigned', default: department === 'Default Department', id_project: this.projectId },
      lead: { _id: this.hex(24), lead_id: guestId, fullname: requester, email: `${requester.split(' ')[0]!.toLowerCase()}.${this.hex(4)}@example.com`, attributes: {} },
      participants: [`bot_${this.hex(24)}`],
      participantsAgents: [],
      participantsBots: [this.hex(24)],
      hasBot: true,
      channel: { name: this.pick(['chat21', 'chat21', 'whatsapp', 'telegram']) },
      attributes: {
        client: this.pick([
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
          'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
          'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15',
        ]),
        sourcePage: `https://shop.example.com${this.pick(PAGES)}?utm_source=${this.pick(['google', 'newsletter', 'facebook'])}`,
        sourceTitle: this.sentence(3),
        projectId: this.projectId,
        widgetVer: `v.5.0.${Math.floor(this.next() * 90)}`,
        departmentId: this.hex(24),
        departmentName: department,
        requester_id: guestId,
        userFullname: requester,
        subtype: 'info',
        decoded_jwt: { _id: guestId, firstname: requester.split(' ')[0], id: guestId, fullName: requester, iat: Math.floor(sentAt / 1000), aud: 'https://tiledesk.com', iss: 'https://tiledesk.com', sub: 'guest', jti: `${this.hex(8)}-${this.hex(4)}-${this.hex(4)}-${this.hex(4)}-${this.hex(12)}` },
      },
      location: { country: this.pick(['IT', 'DE', 'GB', 'US', 'BR']), city: this.pick(['Milano', 'Roma', 'Berlin', 'London', 'Lecce']), ipAddress: `${Math.floor(this.next() * 223)}.${Math.floor(this.next() * 255)}.${Math.floor(this.next() * 255)}.${Math.floor(this.next() * 255)}` },
      tags: [],
      ticket_id: 1000 + this.n,
      createdAt: created,
      updatedAt: new Date(sentAt).toISOString(),
      createdBy: guestId,
      snapshot: { agents: [{ id_user: this.hex(24), role: 'owner', user_available: this.next() > 0.5 }], availableAgentsCount: Math.floor(this.next() * 4) },
    };
    const message: Record<string, unknown> = {
      _id: this.hex(24),
      sender: this.pick([guestId, `bot_${this.hex(24)}`]),
      senderFullname: this.pick([requester, this.pick(AGENTS)]),
      recipient: requestId,
      recipientFullname: requester,
      type: 'text',
      channel_type: 'group',
      text: '',
      language: this.pick(['en', 'it', 'de']),
      channel: { name: request.channel.name },
      id_project: this.projectId,
      status: 200,
      attributes: { tempUID: `${this.hex(8)}-${this.hex(4)}-${this.hex(4)}`, senderAuthInfo: { authVar: { uid: guestId } }, userFullname: requester, sourcePage: request.attributes.sourcePage },
      metadata: {},
      createdBy: guestId,
      createdAt: new Date(sentAt).toISOString(),
      updatedAt: new Date(sentAt).toISOString(),
      request,
      sentAt,
    };
    // The message text takes what is left to reach the target size: short and long chat lines.
    let text = this.sentence(3 + Math.floor(this.next() * 10));
    const base = Buffer.byteLength(JSON.stringify(message));
    while (base + Buffer.byteLength(text) < this.targetBytes - 20) text += ` ${this.sentence(4 + Math.floor(this.next() * 14))}`;
    message.text = text.slice(0, Math.max(1, this.targetBytes - base));
    return message;
  }

  /** Mean JSON size and gzip ratio (JSON bytes ÷ gzipped bytes) of `count` fresh payloads. */
  static measure(projectId: string, targetBytes: number, count = 200): { meanBytes: number; gzipRatio: number } {
    const sample = new ChatPayloads(projectId, targetBytes, 7);
    let json = 0;
    let gz = 0;
    for (let n = 0; n < count; n++) {
      const text = JSON.stringify(sample.payload(Date.now()));
      json += Buffer.byteLength(text);
      gz += gzipSync(text).byteLength;
    }
    return { meanBytes: json / count, gzipRatio: json / gz };
  }
}
