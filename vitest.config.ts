import { defineConfig } from 'vitest/config';

// Times must not depend on the process zone: the suites that turn dates into
// words or calendar lines run twice, under UTC and under Asia/Tokyo.
const zoneSensitive = [
  'test/model/**/*.test.ts',
  'test/render/**/*.test.ts',
  'test/calendar/**/*.test.ts',
  'test/message/**/*.test.ts',
  'test/transport/delivery.test.ts',
];

export default defineConfig({
  test: {
    // dist/ built first (when src/ changed): the tests that start the service run `node dist/start.js`.
    globalSetup: ['test/helpers/build-once.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { test: { name: 'TZ=UTC', include: ['test/**/*.test.ts'], env: { TZ: 'UTC' } } },
      // (SpamAssassin reads bytes whatever the zone: once is enough.)
      { test: { name: 'TZ=Asia/Tokyo', include: zoneSensitive, exclude: ['test/message/spam-score.test.ts'], env: { TZ: 'Asia/Tokyo' } } },
    ],
  },
});
