-- rota schema, version 3: runs waiting for their parents (``after``).
--
-- ``waiting_runs`` and ``release_waiting`` read only the waiting runs: a
-- child's run between its creation and its parents' end, a few however long
-- the history. The partial index holds just those, in id order.

CREATE INDEX rota_runs_waiting ON rota_runs (id) WHERE state = 'waiting';
