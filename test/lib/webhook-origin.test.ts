import { StackTemplate } from './stack-template';

/** The functions that POST webhooks, each named by a variable only it has. */
const SENDERS = {
  subscriptions: 'SUBSCRIPTION_LIMIT',
  // Tiledesk ingest calls the hook too, with the same setting.
  operatorSelect: 'OPERATOR_SELECT_TIMEOUT_MS,!EVENT_BUS_NAME',
  delivery: 'DELIVERY_LANE=fast',
  slowDelivery: 'DELIVERY_LANE=slow',
  ingest: 'EVENT_BUS_NAME',
};
const NON_SENDERS = { authorizer: 'JWT_SECRET_ARN', fanOut: 'FAN_OUT_QUEUE_URL' };

describe("the webhooks' origin header (Tiledesk's WEBHOOK_ORIGIN)", () => {
  it("defaults to the API's URL, in every function that POSTs webhooks and only there", () => {
    const stack = StackTemplate.synth();
    const origins = Object.values(SENDERS).map((variable) => stack.environmentOf(variable).WEBHOOK_ORIGIN);
    const apiId = stack.onlyLogicalId('AWS::ApiGatewayV2::Api', {});
    expect(origins[0]).toEqual({ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] });
    expect(origins).toEqual(Object.values(SENDERS).map(() => origins[0]));
    for (const variable of Object.values(NON_SENDERS)) expect(stack.environmentOf(variable)).not.toHaveProperty('WEBHOOK_ORIGIN');
  });

  it('is the webhookOrigin setting when given', () => {
    const stack = StackTemplate.synth({ webhookOrigin: 'https://support.example.com' });
    for (const variable of Object.values(SENDERS)) {
      expect(stack.environmentOf(variable).WEBHOOK_ORIGIN).toBe('https://support.example.com');
    }
  });
});
