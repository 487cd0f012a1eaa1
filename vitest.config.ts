import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@mlenv/source"] },
  ssr: { resolve: { conditions: ["@mlenv/source"] } },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "tools/*/src/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 600_000,
    pool: "forks",
    reporters: ["default", "./tools/vitest/summaryReporter.ts"],
  },
});
