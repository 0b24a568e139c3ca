/** The region of an ARN (`arn:<partition>:<service>:<region>:…`), if it names one. */
export function regionOfArn(arn: string): string | undefined {
  const region = arn.split(':')[3];
  return arn.startsWith('arn:') && region ? region : undefined;
}
