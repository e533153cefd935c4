-- rota schema, version 2: per-host (``on_each_server``) schedules.
--
-- ``per_host`` is 1 on the record of a schedule that runs on each server;
-- ``list_schedules(per_host=True)`` pages through the partial index, which
-- holds only those (few) records, instead of reading every schedule.

ALTER TABLE rota_schedules ADD COLUMN per_host INTEGER NOT NULL DEFAULT 0;

CREATE INDEX rota_schedules_per_host ON rota_schedules (name) WHERE per_host = 1;
