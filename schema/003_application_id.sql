-- Marks the file as an Intercom Connector queue in the SQLite header
-- (PRAGMA application_id, header bytes 68 to 71). The binaries then reject
-- another application's database even when that application sets
-- PRAGMA user_version itself. 1229156206 is 0x49436F6E, "ICon" in ASCII.
PRAGMA application_id = 1229156206;
