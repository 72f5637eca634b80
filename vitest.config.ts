import { defineConfig } from 'vitest/config';

/**
 * Tests that drive a tool outside Node (Postfix, HAProxy, Chromium, curl/swaks/python, npm,
 * systemd-analyze) or the package as published: the `external` project. Listed by name;
 * every other file under test/e2e is `e2e` and every file under test/unit is `unit`, so a new
 * test file lands in a project by where it is put.
 */
const EXTERNAL = [
  'test/e2e/clients-cli-tools.test.ts',
  'test/e2e/haproxy-proxy-protocol.test.ts',
  'test/e2e/relay-smtp-sink.test.ts',
  'test/e2e/relay-dkim-postfix.test.ts',
  'test/e2e/ui.test.ts',
  'test/e2e/ui-tags.test.ts',
  'test/e2e/ui-release.test.ts',
  'test/e2e/ui-preview.test.ts',
  'test/e2e/ui-check-tabs.test.ts',
  'test/e2e/ui-paging.test.ts',
  'test/e2e/ui-notify.test.ts',
  'test/e2e/package-consumer.test.ts',
  'test/e2e/npm-install-engines.test.ts',
  'test/e2e/systemd-unit.test.ts',
];

const shared = { testTimeout: 30_000, hookTimeout: 30_000, pool: 'forks' } as const;

export default defineConfig({
  test: {
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { test: { ...shared, name: 'e2e', include: ['test/e2e/**/*.test.ts'], exclude: EXTERNAL } },
      { test: { ...shared, name: 'external', include: EXTERNAL } },
    ],
  },
});
