-- Insert each run only if its id is absent: the exactly-once constraint.
-- ARGV[3]: the runs as one JSON text, [shapes, runs] (see insert_all in
-- _lib.lua: what runs share is sent once; one argument, not thousands:
-- packing and parsing that many arguments costs more than JSON).
-- Returns one character per run, in order: '1' inserted, '0' already there (one
-- text: quicker to read than a thousand integer replies).
local out, woke = insert_all(ARGV[3])
if woke then wake() end
return out
