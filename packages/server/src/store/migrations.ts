import {
  buildsMigrationSql,
  buildsPerWorkspaceMigrationSql,
  buildsQueueOrderMigrationSql,
} from "../builds/jobStore";
import { computeMigrationSql } from "../compute/store";
import {
  networkIsolationMigrationSql,
  runsGpusMigrationSql,
  runsHeartbeatMigrationSql,
  runsMigrationSql,
  servicesDeploymentConfigMigrationSql,
  servicesOwnerMigrationSql,
  servicesTargetMigrationSql,
} from "../runs/runStore";
import { secretHostsMigrationSql, wheelsMigrationSql } from "../wheels/catalog";

/**
 * Schema migrations, applied in order and recorded in `schema_migrations`. Append new entries
 * (locks, builds, runs, wheels, secrets...); never edit or reorder applied ones.
 */
export interface Migration {
  id: string;
  sqlite: string;
  postgres: string;
}

const core = `
CREATE TABLE workspaces (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX api_tokens_workspace ON api_tokens(workspace_id);
CREATE TABLE environments (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name TEXT NOT NULL,
  latest_version INTEGER NOT NULL,
  archived BOOLEAN NOT NULL DEFAULT FALSE,
  curated BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (workspace_id, name)
);
CREATE TABLE environment_versions (
  workspace_id TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  definition_hash TEXT NOT NULL,
  definition TEXT NOT NULL,
  definition_blob TEXT NOT NULL,
  description TEXT,
  tags TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (workspace_id, name, version),
  UNIQUE (workspace_id, name, definition_hash),
  FOREIGN KEY (workspace_id, name) REFERENCES environments(workspace_id, name)
);
CREATE TABLE environment_version_tags (
  workspace_id TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (workspace_id, name, version, key),
  FOREIGN KEY (workspace_id, name, version) REFERENCES environment_versions(workspace_id, name, version)
);
CREATE INDEX environment_version_tags_key ON environment_version_tags(workspace_id, key, value);
CREATE TABLE environment_labels (
  workspace_id TEXT NOT NULL,
  name TEXT NOT NULL,
  label TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (workspace_id, name, label),
  FOREIGN KEY (workspace_id, name, version) REFERENCES environment_versions(workspace_id, name, version)
);
`;

const LOCKS_SQL = `
ALTER TABLE environment_versions ADD COLUMN lock TEXT;
ALTER TABLE environment_versions ADD COLUMN image_key TEXT;
`;

export const migrations: readonly Migration[] = [
  // TEXT sorts by bytes in both backends once PostgreSQL columns use the "C" collation.
  {
    id: "0001_registry",
    sqlite: core,
    postgres: core.replaceAll("name TEXT NOT NULL", 'name TEXT COLLATE "C" NOT NULL'),
  },
  { id: "0002_wheels", sqlite: wheelsMigrationSql("sqlite"), postgres: wheelsMigrationSql("postgres") },
  { id: "0003_builds", sqlite: buildsMigrationSql("sqlite"), postgres: buildsMigrationSql("postgres") },
  { id: "0004_runs", sqlite: runsMigrationSql("sqlite"), postgres: runsMigrationSql("postgres") },
  {
    id: "0005_service_target",
    sqlite: servicesTargetMigrationSql("sqlite"),
    postgres: servicesTargetMigrationSql("postgres"),
  },
  {
    id: "0006_run_heartbeat",
    sqlite: runsHeartbeatMigrationSql("sqlite"),
    postgres: runsHeartbeatMigrationSql("postgres"),
  },
  // A version's lock (mlenv.lock as canonical JSON, NULL when unlocked) and the image key the
  // registry computed for it (over the lock when locked); NULL image_key: registered before 0007.
  {
    id: "0007_environment_locks",
    sqlite: LOCKS_SQL,
    postgres: LOCKS_SQL,
  },
  // A service's CPU/memory limits as JSON `{cpuCores, memoryGb}` (enforced on the docker target).
  {
    id: "0008_service_deployment_config",
    sqlite: servicesDeploymentConfigMigrationSql("sqlite"),
    postgres: servicesDeploymentConfigMigrationSql("postgres"),
  },
  // Build jobs are claimed in enqueue order, not (created_at, random id).
  {
    id: "0009_build_queue_order",
    sqlite: buildsQueueOrderMigrationSql("sqlite"),
    postgres: buildsQueueOrderMigrationSql("postgres"),
  },
  // Services are run by one server process at a time (a lease), not by every process.
  {
    id: "0010_service_owner",
    sqlite: servicesOwnerMigrationSql("sqlite"),
    postgres: servicesOwnerMigrationSql("postgres"),
  },
  // Compute targets (Slurm clusters), the cluster jobs of runs, datastores; runs' compute and inputs.
  { id: "0011_compute", sqlite: computeMigrationSql("sqlite"), postgres: computeMigrationSql("postgres") },
  // Each workspace secret is bound to the hosts / URL prefixes an admin allows it to be sent to.
  {
    id: "0012_secret_hosts",
    sqlite: secretHostsMigrationSql("sqlite"),
    postgres: secretHostsMigrationSql("postgres"),
  },
  // Build jobs coalesce within a workspace only (one active job per workspace and image key).
  {
    id: "0013_build_jobs_per_workspace",
    sqlite: buildsPerWorkspaceMigrationSql("sqlite"),
    postgres: buildsPerWorkspaceMigrationSql("postgres"),
  },
  // Runs ask for GPUs and record the indices they were given (services keep theirs in deployment_config).
  { id: "0014_run_gpus", sqlite: runsGpusMigrationSql("sqlite"), postgres: runsGpusMigrationSql("postgres") },
  // Runs have no network unless they ask for it; service workers require a token (issue 14 item 9).
  {
    id: "0015_network_isolation",
    sqlite: networkIsolationMigrationSql("sqlite"),
    postgres: networkIsolationMigrationSql("postgres"),
  },
];
