import { Aws, CfnRule, Fn, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { publicKeyProblem } from '../lambdas/core/tiledesk-token';

/**
 * A Secrets Manager secret's full ARN: Secrets Manager appends a hyphen and six random
 * characters to the name, and an IAM policy naming the ARN without them matches no secret, so
 * the function would get AccessDenied at its first request
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot.html#ARN_secretnamehyphen).
 */
const FULL_SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;

/** Throws at synth, in one line naming the setting, unless `arn` is a secret's full ARN. */
export function checkSecretArn(setting: string, arn: string | undefined): void {
  // A token (another construct's secret.secretArn) resolves to the full ARN at deploy.
  if (arn === undefined || Token.isUnresolved(arn) || FULL_SECRET_ARN.test(arn)) return;
  throw new Error(
    `${setting} must be the secret's full ARN, with the 6 characters Secrets Manager adds to its name ` +
      `(aws secretsmanager describe-secret --secret-id <name> --query ARN); got ${arn}`,
  );
}

/**
 * Throws at synth, in one line naming the setting, unless `pem` is a public key the functions
 * can verify Tiledesk's tokens with (the check they make at cold start, which would otherwise
 * fail every request). The CDK CLI keeps only the first line of a multi-line `-c key=value`,
 * so a PEM pasted as is arrives as `-----BEGIN PUBLIC KEY-----` alone.
 */
export function checkPublicKey(setting: string, pem: string | undefined): void {
  if (pem === undefined || Token.isUnresolved(pem)) return;
  const problem = publicKeyProblem(pem);
  if (problem === undefined) return;
  throw new Error(
    `${setting} is not a usable public key (${problem}): give the PEM on one line with \\n escapes ` +
      '("-----BEGIN PUBLIC KEY-----\\nMIIB…\\n-----END PUBLIC KEY-----"), or in cdk.json; -c keeps only the first line of a multi-line value',
  );
}

/** An SNS topic's ARN, as `arn:<partition>:sns:<region>:<account>:<name>`. */
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

/** Throws at synth, in one line naming the setting, unless `arn` is an SNS topic's ARN. */
export function checkTopicArn(setting: string, arn: string | undefined): void {
  if (arn === undefined || Token.isUnresolved(arn) || TOPIC_ARN.test(arn)) return;
  throw new Error(`${setting} must be an SNS topic's ARN (arn:aws:sns:<region>:<account>:<topic>); got ${arn}`);
}

/**
 * Requires the stack to be deployed to `region` (a resource it must live beside): refused at
 * synth, with `message` and the stack's region, when both are known; otherwise by a template rule
 * (`ruleId`) that CloudFormation checks before creating anything.
 */
export function requireStackRegion(scope: Construct, ruleId: string, region: string, message: string): void {
  const stackRegion = Stack.of(scope).region;
  if (!Token.isUnresolved(stackRegion)) {
    if (stackRegion !== region) throw new Error(`${message}, not ${stackRegion}`);
    return;
  }
  new CfnRule(scope, ruleId, { assertions: [{ assert: Fn.conditionEquals(Aws.REGION, region), assertDescription: message }] });
}

/** An event bus's name (1–256 of EventBridge's `[/\.\-_A-Za-z0-9]`, `/` for partner buses), or its ARN. */
const BUS_NAME = /^[/A-Za-z0-9._-]{1,256}$/;
const BUS_ARN = /^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus\/([/A-Za-z0-9._-]{1,256})$/;

/**
 * The parts of `existingBus` (a name, or an ARN whose region and account may differ from the
 * stack's); throws at synth, in one line naming the setting, for anything else.
 */
export function parseExistingBus(value: string): { name: string; arn?: { region: string; account: string } } {
  const arn = BUS_ARN.exec(value);
  if (arn) return { name: arn[3]!, arn: { region: arn[1]!, account: arn[2]! } };
  if (BUS_NAME.test(value) && !value.startsWith('arn:')) return { name: value };
  throw new Error(`existingBus must be an event bus's name or its ARN (arn:aws:events:<region>:<account>:event-bus/<name>); got ${value}`);
}
