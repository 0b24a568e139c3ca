import { AWS_CALLS } from '../core/settings';

/**
 * Every SDK client's configuration, spread into its constructor: its HTTP attempts time out
 * ({@link AWS_CALLS}), so the SDK's retry gets a stalled call going again. The Node handler only
 * warns at `requestTimeout` unless told to throw. (A module of its own, without clients, so the
 * functions that need one client do not load the others.)
 */
export const SDK_CLIENT_CONFIG = {
  requestHandler: { connectionTimeout: AWS_CALLS.connectionTimeoutMs, requestTimeout: AWS_CALLS.requestTimeoutMs, throwOnRequestTimeout: true },
};
