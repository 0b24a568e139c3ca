import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AwsEndpoint, startAwsEndpoint } from '../../local/aws-endpoint';
import { EmulatorProcess, startEmulatorProcess } from '../../local/emulator-process';
import { localMessageMoves } from '../../local/message-move';

/** fauxqs behind the local AWS endpoint, without the rest of the stack: the SQS layer alone. */
export interface SqsEndpoint {
  sqs: SQSClient;
  url: string;
  /** The endpoint's in-process SQS entry, as the local stack hands it to Lambda's pollers. */
  direct: AwsEndpoint['sqs'];
  createQueue(name: string, attributes?: Record<string, string>): Promise<{ url: string; arn: string }>;
  stop(): Promise<void>;
}

/**
 * Starts fauxqs and the local AWS endpoint in front of it (SQS only) on free loopback ports;
 * with `dataDir`, fauxqs keeps its queues there (the local stack's DATA_DIR); with `duplicateRate`,
 * that share of receives leaves a copy of the message behind (SQS's at-least-once delivery).
 */
export async function startSqsEndpoint(options: { dataDir?: string; duplicateRate?: number } = {}): Promise<SqsEndpoint> {
  const fauxqs: EmulatorProcess = await startEmulatorProcess('fauxqs', 'fauxqs-server.mjs', {
    FAUXQS_PORT: '0',
    FAUXQS_DATA_DIR: options.dataDir ?? '',
    FAUXQS_DUPLICATE_RATE: String(options.duplicateRate ?? 0),
  });
  const holder: { sqs?: SQSClient } = {};
  let endpoint: AwsEndpoint;
  try {
    endpoint = await startAwsEndpoint({
      port: 0,
      dynamoDbUrl: 'http://127.0.0.1:9',
      sqsUrl: fauxqs.address,
      events: async () => ({ status: 400, body: { message: 'no EventBridge here' } }),
      sqsExtensions: localMessageMoves(() => holder.sqs!),
    });
  } catch (error) {
    await fauxqs.stop();
    throw error;
  }
  const sqs = new SQSClient({
    endpoint: endpoint.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  holder.sqs = sqs;
  return {
    sqs,
    url: endpoint.url,
    direct: endpoint.sqs,
    async createQueue(name, attributes = {}) {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
      return { url: QueueUrl!, arn: Attributes!.QueueArn! };
    },
    async stop() {
      sqs.destroy();
      await endpoint.stop();
      await fauxqs.stop();
    },
  };
}
