-- sync 0.4.0 -> 0.5.0: hardening against hostile or broken providers.
--
-- What changes for users (each section below says what it adds):
--  - times are kept to the microsecond for every provider and stream;
--    trade ids stay as they were, so rows stored before and after the
--    update never duplicate each other.

\echo Use "ALTER EXTENSION sync UPDATE TO '0.5.0'" to load this file. \quit
