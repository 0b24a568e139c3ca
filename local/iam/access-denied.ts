import { randomUUID } from 'node:crypto';
import { LocalService, RequiredPermission } from './required-permissions';

/** An HTTP answer of the local AWS endpoint. */
export interface ServiceResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Why a request was refused: implicitly (nothing allows it) or by an explicit `Deny` in one kind of policy. */
export type Denial = { kind: 'ImplicitlyDenied' } | { kind: 'ExplicitlyDenied'; by: 'identity' | 'resource' };

/**
 * AWS's sentence for a refused call, e.g. `User: arn:aws:sts::…:assumed-role/R/F is not
 * authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:…:table/T because no
 * identity-based policy allows the dynamodb:PutItem action`. SQS writes the action in lower
 * case (`sqs:sendmessage`) and S3 quotes the resource, as those services do.
 */
export function denialMessage(service: LocalService, principalArn: string, permission: RequiredPermission, denial: Denial): string {
  const action = service === 'sqs' ? permission.action.toLowerCase() : permission.action;
  const resource = service === 's3' ? `"${permission.resource}"` : permission.resource;
  const reason =
    denial.kind === 'ExplicitlyDenied'
      ? `with an explicit deny in ${denial.by === 'resource' ? 'a resource-based' : 'an identity-based'} policy`
      : `because no identity-based policy allows the ${action} action`;
  return `User: ${principalArn} is not authorized to perform: ${action} on resource: ${resource} ${reason}`;
}

/**
 * The refusal exactly as each service sends it: DynamoDB and EventBridge a JSON
 * `AccessDeniedException` (HTTP 400); SQS, in the JSON protocol the SDK speaks, HTTP 403 with
 * `x-amzn-query-error: AccessDenied;Sender`, from which the SDK names the error `AccessDenied`;
 * S3 an XML `<Error><Code>AccessDenied</Code>` with HTTP 403.
 */
export function accessDeniedResponse(service: LocalService, message: string): ServiceResponse {
  const requestId = randomUUID();
  switch (service) {
    case 'dynamodb':
      return json(400, 'application/x-amz-json-1.0', { __type: 'com.amazon.coral.service#AccessDeniedException', Message: message }, requestId);
    case 'events':
      return json(400, 'application/x-amz-json-1.1', { __type: 'AccessDeniedException', Message: message }, requestId);
    case 'sqs': {
      const response = json(403, 'application/x-amz-json-1.0', { __type: 'com.amazon.coral.service#AccessDeniedException', message }, requestId);
      response.headers['x-amzn-query-error'] = 'AccessDenied;Sender';
      return response;
    }
    case 's3': {
      const body =
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<Error><Code>AccessDenied</Code><Message>${escapeXml(message)}</Message><RequestId>${requestId}</RequestId><HostId>local</HostId></Error>`;
      return { status: 403, headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId }, body };
    }
  }
}

function json(status: number, contentType: string, body: unknown, requestId: string): ServiceResponse {
  return { status, headers: { 'content-type': contentType, 'x-amzn-requestid': requestId }, body: JSON.stringify(body) };
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
