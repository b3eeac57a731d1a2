-- A case row is rewritten at every step of its workflow (about twenty times), but its indexed columns rarely change
-- (status a few times; the merchant, wallet and host arrays never). Free space on each page lets PostgreSQL make those
-- rewrites heap-only (HOT) updates, which touch none of the table's seven indexes (three of them GIN). New pages only.
ALTER TABLE cases SET (fillfactor = 70);
