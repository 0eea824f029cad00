import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests never wait on real time: the clock and sleep are injected. Integration tests use real
    // loopback servers (the simulator, s3rver) and real child processes, so give them room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    env: { TZ: 'UTC', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
