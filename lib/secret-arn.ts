import { Token } from 'aws-cdk-lib';

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
