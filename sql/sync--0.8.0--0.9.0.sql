-- sync 0.8.0 -> 0.9.0: past one table and one machine (issue 16).
--
-- sync.bars and sync.trades become tables partitioned by time; retention
-- drops whole partitions; a scale-out layout for Citus.
--
-- A fresh install runs sync--0.1.0.sql and then every update script, so
-- what is written here lands in fresh and updated databases alike.

\echo Use "ALTER EXTENSION sync UPDATE TO '0.9.0'" to load this file. \quit

-- Time partitions ------------------------------------------------------

-- Scale-out (Citus) ----------------------------------------------------
