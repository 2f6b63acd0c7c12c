-- sync 0.4.0 -> 0.5.0: hardening against hostile or broken providers.
--
-- What changes for users (each section below says what it adds):
--  - times are kept to the microsecond for every provider and stream;
--    trade ids stay as they were, so rows stored before and after the
--    update never duplicate each other.

\echo Use "ALTER EXTENSION sync UPDATE TO '0.5.0'" to load this file. \quit

-- Cron: the day fields as Vixie cron joins them (issue 11, finding 10) ----
--
-- Vixie cron, and pg_cron after it, fire on a day when both day-of-month
-- and day-of-week match as soon as either field starts with "*" (so
-- "0 0 */2 * mon" is the Mondays that are odd days), and on either match
-- only when neither does ("0 0 1,15 * mon" is the 1st, the 15th and every
-- Monday).  0.3.0 took any field other than a bare "*" as restricted, so
-- "*/2" made its schedule fire on either.
CREATE OR REPLACE FUNCTION sync._cron_next(expr text, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f        text[];
    minutes  integer[];
    hours    integer[];
    doms     integer[];
    months   integer[];
    dows     integer[];
    day_star boolean;
    start    timestamp;
    d        date;
    h        integer;
    mi       integer;
    t        timestamp;
BEGIN
    f := regexp_split_to_array(btrim(CASE lower(btrim(expr))
                                         WHEN '@yearly' THEN '0 0 1 1 *'
                                         WHEN '@annually' THEN '0 0 1 1 *'
                                         WHEN '@monthly' THEN '0 0 1 * *'
                                         WHEN '@weekly' THEN '0 0 * * 0'
                                         WHEN '@daily' THEN '0 0 * * *'
                                         WHEN '@midnight' THEN '0 0 * * *'
                                         WHEN '@hourly' THEN '0 * * * *'
                                         ELSE expr END), '\s+');
    IF cardinality(f) <> 5 THEN
        RAISE EXCEPTION 'invalid cron schedule "%"', expr
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It has %s fields; a schedule has five.', cardinality(f)),
                  HINT = 'minute hour day-of-month month day-of-week, in UTC: ''10 0 * * *'' is 00:10 every day; @hourly, @daily, @weekly, @monthly also work.';
    END IF;
    minutes := sync._cron_field(expr, 'minute', f[1], 0, 59);
    hours := sync._cron_field(expr, 'hour', f[2], 0, 23);
    doms := sync._cron_field(expr, 'day-of-month', f[3], 1, 31);
    months := sync._cron_field(expr, 'month', f[4], 1, 12,
                               '{jan,feb,mar,apr,may,jun,jul,aug,sep,oct,nov,dec}', 1);
    dows := sync._cron_field(expr, 'day-of-week', f[5], 0, 7, '{sun,mon,tue,wed,thu,fri,sat}', 0);
    IF 7 = ANY (dows) THEN
        dows := array_append(dows, 0);      -- 7 is Sunday too
    END IF;
    -- Vixie cron's DOM_STAR/DOW_STAR: the field's first character is "*"
    day_star := left(f[3], 1) = '*' OR left(f[5], 1) = '*';

    start := date_trunc('minute', after AT TIME ZONE 'UTC') + interval '1 minute';
    d := start::date;
    -- eight years cover every day-of-month and weekday combination
    FOR i IN 0 .. 366 * 8 LOOP
        IF extract(month FROM d)::integer = ANY (months)
           AND (CASE WHEN day_star
                     THEN extract(day FROM d)::integer = ANY (doms)
                          AND extract(dow FROM d)::integer = ANY (dows)
                     ELSE extract(day FROM d)::integer = ANY (doms)
                          OR extract(dow FROM d)::integer = ANY (dows) END) THEN
            FOREACH h IN ARRAY hours LOOP
                FOREACH mi IN ARRAY minutes LOOP
                    t := d + make_time(h, mi, 0);
                    IF t >= start THEN
                        RETURN t AT TIME ZONE 'UTC';
                    END IF;
                END LOOP;
            END LOOP;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN NULL;
END
$$;

-- A schedule whose day fields changed meaning ("*/2" with a weekday, or a
-- day of month with "*/2" weekdays) is due at its next firing under the
-- new rule.  A next_run already past stays: it is a firing missed while
-- the server was down, and runs once on start as before.
UPDATE sync.schedules s
   SET next_run = sync._cron_next(s.cron, now())
  FROM (SELECT name, regexp_split_to_array(btrim(cron), '\s+') AS f FROM sync.schedules) x
 WHERE x.name = s.name AND cardinality(x.f) = 5 AND s.next_run > now()
   AND (left(x.f[3], 1) = '*' OR left(x.f[5], 1) = '*') AND x.f[3] <> '*' AND x.f[5] <> '*';
