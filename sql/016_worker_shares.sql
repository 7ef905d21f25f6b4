-- Work shared out among workers (worker/README.md "Sharing work on a Galera cluster").
-- Galera replicates row writes, not row locks: two workers claiming on two nodes write the
-- same endpoint and scope rows (sql/015) and one of them fails certification. With
-- share_work on (by default, on a Galera node) each worker keeps a row here alive and, from
-- the rows alive, takes the scopes (and fans out the events of the resellers) whose
-- CRC32 falls in its share: two workers never write the same rows, so they do not conflict.
-- A worker that stops renewing its row (killed, hung, its node out of the cluster) is left
-- out once expires_at passes, and the others take its scopes. Rows are the workers' own:
-- each writes only its row (a stopping worker deletes it, rows expired for a day go too).
-- Safe to re-run: IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS webhook_workers (
  worker_id   VARCHAR(191) NOT NULL,
  started_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  renewed_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  expires_at  DATETIME(3)  NOT NULL,
  PRIMARY KEY (worker_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
