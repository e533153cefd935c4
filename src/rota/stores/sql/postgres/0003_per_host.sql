-- rota schema, version 3, on PostgreSQL: per-host (``on_each_server``) schedules.
--
-- ``per_host`` is true on the record of a schedule that runs on each server;
-- ``list_schedules(per_host=True)`` pages through the partial index, which
-- holds only those (few) records, instead of reading every schedule.

ALTER TABLE schedules ADD COLUMN per_host boolean NOT NULL DEFAULT false;

CREATE INDEX schedules_per_host ON schedules (name) WHERE per_host;
