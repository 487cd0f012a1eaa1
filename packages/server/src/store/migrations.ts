import type { Migration } from "./migrator";

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

const LIST_SQL = "CREATE INDEX environments_list ON environments(workspace_id, archived, name);";

const SUMMARY_SQL = "ALTER TABLE environments ADD COLUMN summary TEXT;";

/** The registry's own migrations (the other features export theirs beside their stores). */
export const registryMigrations: readonly Migration[] = [
  // TEXT sorts by bytes in both backends once PostgreSQL columns use the "C" collation.
  {
    id: "0001_registry",
    sqlite: core,
    postgres: core.replaceAll("name TEXT NOT NULL", 'name TEXT COLLATE "C" NOT NULL'),
  },
  // A version's lock (mlenv.lock as canonical JSON, NULL when unlocked) and the image key the
  // registry computed for it (over the lock when locked); NULL image_key: registered before 0007.
  { id: "0007_environment_locks", sqlite: LOCKS_SQL, postgres: LOCKS_SQL },
  // The list's keyset: a page of live (or archived) names after a cursor is one range of this index.
  { id: "0016_environment_list", sqlite: LIST_SQL, postgres: LIST_SQL },
  // Each environment's list item (its latest version's summary, JSON), kept beside it by every write
  // that changes it, so a page of the list reads one index range and decodes nothing. NULL until
  // written: rows of older servers get theirs on their first listing.
  { id: "0017_environment_summaries", sqlite: SUMMARY_SQL, postgres: SUMMARY_SQL },
];
