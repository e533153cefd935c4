-- Insert each run only if its id is absent: the exactly-once constraint.
-- ARGV[3]: a JSON array with one array per run, its fields and values as
-- text, "id" first: [["id", "r1", "job", "j", …], …] (one argument, not
-- thousands: packing and parsing that many arguments costs more than JSON).
-- Returns one character per run, in order: '1' inserted, '0' already there (one
-- text: quicker to read than a thousand integer replies).
local out, woke = insert_all(ARGV[3])
if woke then wake() end
return out
