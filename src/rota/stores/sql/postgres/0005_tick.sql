-- rota schema, version 5, on PostgreSQL: what a scheduler tick needs, fast.
--
-- ``from_unix_us``: the batch writes (the ``fire`` query) take their rows as
-- JSON documents, with timestamps as integer microseconds since the Unix
-- epoch (what rota.stores._codec stores elsewhere). This turns one back into
-- a timestamptz, exactly: seconds and microseconds apart, each product exact
-- in float8 for every year 1 to 9999 (seconds * 10^6 is seconds * 15625,
-- below 2^53, times 2^6), with no time zone involved (the intervals have no
-- days or months). NULL gives NULL. A plain SQL expression, inlined where it
-- is called.

CREATE FUNCTION from_unix_us(us bigint) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT timestamptz '1970-01-01 00:00:00+00'
           + (us / 1000000) * interval '1 second'
           + (us % 1000000) * interval '1 microsecond'
$$;
