import type { Hono } from "hono";

/** What a feature of a server process (image builds, runs and services) gives the server. */
export interface ServerFeature {
  /** Its HTTP routes, mounted by the app. */
  routes: Hono;
  /** The server's own URL, set once it listens (signed wheel URLs and callbacks point at it). */
  setBaseUrl(url: string): void;
  /** Take over what an earlier process left and start working (after the server listens). */
  start(): Promise<void>;
  /** Stop working and close what the feature opened. */
  close(): Promise<void>;
}
