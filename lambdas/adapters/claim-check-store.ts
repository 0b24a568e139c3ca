import { randomUUID } from 'node:crypto';
import type * as S3Sdk from '@aws-sdk/client-s3';
import { ClaimCheck, checkClaimCheckBinding, claimCheckPrefixOf, readClaimCheck } from '../core/claim-check';
import { SDK_CLIENT_CONFIG } from './sdk-config';
import { sdkClient } from './observability';

/**
 * S3 client, once per container, loaded at the first claim check: only payloads over
 * EventBridge's limit have one, so the delivery and ingest functions' cold starts do not load
 * the S3 SDK (30-40 ms of the delivery bundles' load here, BENCHMARKS.md). Locally `AWS_ENDPOINT_URL` points
 * it at the local AWS endpoint; its address is an IP, for which the SDK addresses buckets
 * path-style by itself.
 */
let loadingS3: Promise<{ sdk: typeof S3Sdk; s3: S3Sdk.S3Client }> | undefined;
const s3Sdk = () => (loadingS3 ??= import('@aws-sdk/client-s3').then((sdk) => ({ sdk, s3: sdkClient(new sdk.S3Client({ ...SDK_CLIENT_CONFIG })) })));

/**
 * The deployment's claim-check bucket: the only one a claim check may name. Read from the
 * function's configuration, never from the event, so a published pointer cannot choose it; read
 * at each use, since tools import this module before they configure the environment.
 */
const configuredBucket = (): string | undefined => process.env.CLAIM_CHECK_BUCKET?.trim() || undefined;

/** Stores event payloads over EventBridge's limit and reads them back (claim checks). */
export interface ClaimCheckStore {
  /** Stores a payload's JSON under its project; the claim check names it. */
  put(payloadJson: string, projectId: string): Promise<ClaimCheck>;
  /** The payload JSON a claim check names. */
  get(claimCheck: ClaimCheck): Promise<string>;
}

/** The claim checks of `bucket` (whose lifecycle rule expires them). */
export function createClaimCheckStore(bucket: string): ClaimCheckStore {
  return {
    async put(payloadJson, projectId) {
      // The project's prefix binds the object to it; a date keeps listings readable; the random part makes every key new.
      const key = `${claimCheckPrefixOf(projectId)}${new Date().toISOString().slice(0, 10)}/${randomUUID()}.json`;
      const { sdk, s3 } = await s3Sdk();
      await s3.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: payloadJson, ContentType: 'application/json' }));
      return { bucket, key, bytes: Buffer.byteLength(payloadJson) };
    },
    get: readPayload,
  };
}

async function readPayload({ bucket, key }: ClaimCheck): Promise<string> {
  const { sdk, s3 } = await s3Sdk();
  const object = await s3.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key })).catch((error: unknown) => {
    // S3 answers a missing key with 403 AccessDenied to a role without s3:ListBucket (ours):
    // name the likely cause rather than leave a bare "Access Denied" in the attempt log.
    const name = (error as Error).name;
    if (name !== 'AccessDenied' && name !== 'NoSuchKey') throw error;
    throw new Error(`claim check s3://${bucket}/${key} cannot be read (${name}: ${(error as Error).message}): it expired, or was never stored`, { cause: error });
  });
  if (!object.Body) throw new Error(`claim check s3://${bucket}/${key} has no body`);
  return object.Body.transformToString('utf8');
}

/**
 * The payload to deliver: the stored payload when `payload` is a claim-checked event's detail,
 * `payload` itself otherwise. Delivery calls it just before it signs and POSTs, so queues and
 * attempt logs keep carrying the small claim check. A claim check outside the configured bucket
 * or the payload's project is refused before any read. Throws when the object cannot be read
 * (expired, or S3 failing): the caller treats it as a failed attempt and retries.
 */
export async function resolveClaimCheckedPayload(payload: Record<string, unknown>): Promise<Record<string, unknown>> {
  const claimCheck = readClaimCheck(payload);
  if (!claimCheck) return payload;
  checkClaimCheckBinding(claimCheck, payload.id_project, configuredBucket());
  const stored: unknown = JSON.parse(await readPayload(claimCheck));
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) {
    throw new Error(`claim check s3://${claimCheck.bucket}/${claimCheck.key} is not a JSON object`);
  }
  return stored as Record<string, unknown>;
}
