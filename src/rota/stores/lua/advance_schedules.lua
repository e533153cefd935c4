-- advance_schedule for each item, in order (an item sees what the ones
-- before it did). ARGV[3]: a JSON array with one array per item,
-- [[name, expected version, last_slot or '', next_due or ''], …], as text.
-- Returns one character per item, as one text: '1' advanced, '0' conflict.
return advance_all(ARGV[3])
