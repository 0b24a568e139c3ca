/**
 * Runs before each test file's imports (jest `setupFiles`), so modules that build their
 * Powertools metrics at import — even one imported only for a constant — see it: metrics are
 * off in tests, as on the local stack, so no EMF lines land in the test output.
 */
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
