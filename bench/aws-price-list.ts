/**
 * AWS list prices the benchmark's cost shapes use: us-east-1, Lambda on arm64, on-demand
 * DynamoDB, beyond the free tiers. One dated list: when AWS changes a price, change it here and
 * the date with it.
 */
export const AWS_PRICE_LIST = {
  asOf: '2026-12-03',
  region: 'us-east-1',
  /** https://aws.amazon.com/eventbridge/pricing/ — custom events, per 64 KB chunk of an entry. */
  eventBridgeEvent: 1.0 / 1e6,
  /** https://aws.amazon.com/sqs/pricing/ — standard queue requests, per 64 KB chunk. */
  sqsRequest: 0.4 / 1e6,
  /** https://aws.amazon.com/dynamodb/pricing/on-demand/ — write and read request units. */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** Table storage and continuous backups (point-in-time recovery), per GB-month of table size. */
  dynamoStorageGbMonth: 0.25,
  dynamoPitrGbMonth: 0.2,
  /** https://aws.amazon.com/lambda/pricing/ — arm64 duration and requests. */
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  /** https://aws.amazon.com/api-gateway/pricing/ — HTTP API requests (first 300 M a month), per 512 KB. */
  apiRequest: 1.0 / 1e6,
  /** https://aws.amazon.com/s3/pricing/ — S3 Standard PUT/COPY/POST/LIST and GET. */
  s3WriteRequest: 0.005 / 1000,
  s3ReadRequest: 0.0004 / 1000,
  /** https://aws.amazon.com/cloudwatch/pricing/ — Logs ingestion (standard class) and storage. */
  logsIngestGb: 0.5,
  logsStorageGbMonth: 0.03,
} as const;

/** A function gets one vCPU at 1,769 MB and a proportional share below (Lambda documentation, "Memory and computing power"). */
export const LAMBDA_MB_PER_VCPU = 1769;
